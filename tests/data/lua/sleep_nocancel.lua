-- Its wait cannot be cancelled: the timer completes it after the cancel.
return sleep_nocancel(5)
