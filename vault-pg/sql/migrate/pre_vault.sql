-- Whether this is a warehouse of the original Python services that vault has never migrated:
-- no vault.schema_migrations yet, but some of their tables.
SELECT to_regclass('vault.schema_migrations') IS NULL
       AND (to_regclass('dds.h_order') IS NOT NULL
            OR to_regclass('stg.order_events') IS NOT NULL
            OR to_regclass('cdm.user_product_counters') IS NOT NULL) AS pre_vault,
       to_regclass('dds.h_order') IS NOT NULL AS has_dds
