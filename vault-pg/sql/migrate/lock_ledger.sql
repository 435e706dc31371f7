-- Before the daily datamart is re-bucketed: waits for the CDM transactions in flight and holds
-- off new ones (each writes cdm.order_ledger before the mart) until the migration commits.
LOCK TABLE cdm.order_ledger IN SHARE ROW EXCLUSIVE MODE
