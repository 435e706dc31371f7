-- Fails on a time zone name the server does not know (CDM_DAY_TIME_ZONE).
SELECT now() AT TIME ZONE $1::text
