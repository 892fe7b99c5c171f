return require "/etc/passwd"
