-- The time zone the daily datamart's days are in (migration 0010).
SELECT time_zone FROM cdm.daily_settings
