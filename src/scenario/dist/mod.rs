//! Samplers the engine's hot path draws from, built once per run from the scenario: which key
//! ([`KeyChooser`], which spreads zipfian ranks with a [`Permutation`]), what value
//! ([`ValueGen`]), which operation ([`OpMix`]) and how long the origin takes
//! ([`OriginLatency`]). All are `Send + Sync`, take the caller's `SmallRng`, and do not
//! allocate per call. Each is tested against its definition with a goodness-of-fit test at a
//! fixed seed.

#[cfg(test)]
mod goodness;
mod keys;
mod latency;
mod mix;
mod permutation;
mod values;
mod weighted;
mod zipf;

pub use keys::KeyChooser;
pub use latency::OriginLatency;
pub use mix::{EmptyMix, OpMix};
pub use permutation::Permutation;
pub use values::ValueGen;

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn samplers_can_be_shared_by_workers() {
        assert_send_sync::<KeyChooser>();
        assert_send_sync::<Permutation>();
        assert_send_sync::<ValueGen>();
        assert_send_sync::<OpMix>();
        assert_send_sync::<OriginLatency>();
    }
}
