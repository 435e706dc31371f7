//! PostgreSQL adapter for vault-core (migrations, warehouse writers). Filled in by the vault-pg issue.
