-- A delivery waits this long at most for dead letters another session is delivering (then the
-- lock is not available, 55P03, and it tries again later).
SET LOCAL lock_timeout = '10s'
