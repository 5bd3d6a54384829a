//! Cloned-plate detection.

#[derive(Debug, Clone)]
pub struct DetectorConfig {}
pub struct Detector {}
#[derive(Debug, Clone, Default)]
pub struct DetectorStats {}
