local relay <close> = relay_object()
error("scenario gave up")
