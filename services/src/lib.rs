//! The STG, DDS and CDM services. Filled in by the services issue.
