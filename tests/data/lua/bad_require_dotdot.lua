return require "../x"
