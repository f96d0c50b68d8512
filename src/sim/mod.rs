//! sim (placeholder until the simulator lands)
pub mod demo {
    //! placeholder
    pub async fn start() -> Result<(crate::config::Config, ()), String> {
        Err("not built yet".into())
    }
}
