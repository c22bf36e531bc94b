//! Samplers the engine's hot path draws from, built once per run from the scenario: which key
//! ([`KeyChooser`]), what value ([`ValueGen`]), which operation ([`OpMix`]) and how long the
//! origin takes ([`OriginLatency`]). All are `Send + Sync`, take the caller's
//! `SmallRng`, and do not allocate per call.

mod keys;
mod latency;
mod mix;
mod values;
mod weighted;

pub use keys::KeyChooser;
pub use latency::OriginLatency;
pub use mix::{EmptyMix, OpMix};
pub use values::ValueGen;

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn samplers_can_be_shared_by_workers() {
        assert_send_sync::<KeyChooser>();
        assert_send_sync::<ValueGen>();
        assert_send_sync::<OpMix>();
        assert_send_sync::<OriginLatency>();
    }
}
