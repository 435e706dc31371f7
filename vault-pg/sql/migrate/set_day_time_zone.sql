-- A new time zone for the daily datamart (CDM_DAY_TIME_ZONE); rebuild_days.sql follows.
UPDATE cdm.daily_settings SET time_zone = $1::text
