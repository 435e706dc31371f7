//! The three stages of the pipeline, each a [`crate::runner::Stage`].

pub mod cdm;
pub mod dds;
pub mod stg;

pub use cdm::CdmStage;
pub use dds::DdsStage;
pub use stg::StgStage;
