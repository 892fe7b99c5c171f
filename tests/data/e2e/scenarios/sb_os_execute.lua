-- sandbox: os.execute does not exist in a scenario (a lab-error naming this line)
log.info("trying os.execute")
os.execute("touch /tmp/patchlab-sandbox-escaped")
verdict.pass("os.execute ran")
