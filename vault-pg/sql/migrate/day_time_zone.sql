-- The time zone the daily datamart's days are in (migration 0009).
SELECT time_zone FROM cdm.daily_settings
