-- Whether this session's transactions are read-only: a standby, a server in recovery, or a
-- database set to default_transaction_read_only (a managed cluster during a switchover).
SHOW transaction_read_only
