//! What gets written: value sizes drawn from the keyspace's size distribution, and value bytes
//! sliced from one pool generated at construction (random bytes, or JSON-like records at the
//! configured compressibility). Slicing makes a 1 MiB value as cheap as a 10-byte one.

use super::weighted::Cumulative;
use crate::scenario::keyspace::{Keyspace, ValueContent, ValueSize};
use crate::scenario::MAX_VALUE_SIZE;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// Room beyond the largest value, so values start at many different offsets.
const POOL_SLACK: usize = 2 << 20;

/// Generates value sizes and contents for one run; shared by all workers.
#[derive(Debug)]
pub struct ValueGen {
    sizes: Sizes,
    /// The largest size [`ValueGen::size`] returns.
    max_size: usize,
    /// `POOL_SLACK + max_size` bytes of the configured content.
    pool: Box<[u8]>,
    /// For JSON content, offsets where a record starts, so values begin with `{`.
    /// Empty for random content (any offset will do).
    record_starts: Box<[u32]>,
}

#[derive(Debug)]
enum Sizes {
    Fixed(usize),
    Uniform(usize, usize),
    Weighted(Box<[usize]>, Cumulative),
}

fn clamp(size: u64) -> usize {
    size.min(MAX_VALUE_SIZE) as usize
}

impl ValueGen {
    /// Builds the size sampler and the content pool (deterministic for a given `seed`).
    pub fn new(keyspace: &Keyspace, seed: u64) -> ValueGen {
        let sizes = match &keyspace.value_size {
            ValueSize::Fixed(n) => Sizes::Fixed(clamp(*n)),
            ValueSize::Uniform { min, max } => Sizes::Uniform(clamp(*min.min(max)), clamp(*max)),
            ValueSize::Weighted(list) => match Cumulative::new(list.iter().map(|w| w.weight)) {
                Some(table) => Sizes::Weighted(list.iter().map(|w| clamp(w.size)).collect(), table),
                None => Sizes::Fixed(1024),
            },
        };
        let max_size = match &sizes {
            Sizes::Fixed(n) => *n,
            Sizes::Uniform(_, max) => *max,
            Sizes::Weighted(list, _) => list.iter().copied().max().unwrap_or(0),
        };
        let mut rng = SmallRng::seed_from_u64(seed);
        let len = POOL_SLACK + max_size;
        let (pool, record_starts) = match keyspace.value_content {
            ValueContent::Random => {
                let mut pool = vec![0u8; len];
                rng.fill(&mut pool[..]);
                (pool, Vec::new())
            }
            ValueContent::Json { compressibility } => json_pool(&mut rng, len, compressibility),
        };
        ValueGen {
            sizes,
            max_size,
            pool: pool.into_boxed_slice(),
            record_starts: record_starts.into_boxed_slice(),
        }
    }

    /// The largest size this generator returns.
    pub fn max_size(&self) -> usize {
        self.max_size
    }

    /// The size of the next value, in bytes.
    pub fn size(&self, rng: &mut SmallRng) -> usize {
        match &self.sizes {
            Sizes::Fixed(n) => *n,
            Sizes::Uniform(min, max) => rng.random_range(*min..=*max),
            Sizes::Weighted(list, table) => list[table.pick(rng)],
        }
    }

    /// `size` bytes of content at a random offset of the pool (at most the pool's length,
    /// which is `max_size()` plus 2 MiB).
    pub fn value(&self, rng: &mut SmallRng, size: usize) -> &[u8] {
        let size = size.min(self.pool.len());
        let last_start = self.pool.len() - size;
        let start = if self.record_starts.is_empty() {
            rng.random_range(0..=last_start)
        } else {
            let fitting = self
                .record_starts
                .partition_point(|&s| s as usize <= last_start)
                .max(1);
            self.record_starts[rng.random_range(0..fitting)] as usize
        };
        &self.pool[start..start + size]
    }
}

/// Repeated words: what makes real JSON compress (status names, countries, tags, ...).
const VOCABULARY: [&str; 32] = [
    "active",
    "pending",
    "archived",
    "premium",
    "standard",
    "trial",
    "admin",
    "editor",
    "viewer",
    "london",
    "sydney",
    "berlin",
    "toronto",
    "melbourne",
    "brisbane",
    "auckland",
    "billing",
    "support",
    "sales",
    "marketing",
    "engineering",
    "product",
    "design",
    "finance",
    "enabled",
    "disabled",
    "monthly",
    "yearly",
    "email",
    "sms",
    "push",
    "webhook",
];

const ALPHANUMERIC: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/// A token: a vocabulary word with probability `c`, else random alphanumerics.
fn token(rng: &mut SmallRng, out: &mut Vec<u8>, c: f64) {
    if rng.random::<f64>() < c {
        out.extend_from_slice(VOCABULARY[rng.random_range(0..VOCABULARY.len())].as_bytes());
    } else {
        for _ in 0..rng.random_range(6..=12) {
            out.push(ALPHANUMERIC[rng.random_range(0..ALPHANUMERIC.len())]);
        }
    }
}

/// A number: a round one with probability `c`, else random digits.
fn number(rng: &mut SmallRng, out: &mut Vec<u8>, c: f64) {
    let n: u32 = if rng.random::<f64>() < c {
        rng.random_range(1..=10) * 100
    } else {
        rng.random()
    };
    out.extend_from_slice(n.to_string().as_bytes());
}

/// JSON-lines records until `len` bytes; returns the pool and the record start offsets.
fn json_pool(rng: &mut SmallRng, len: usize, c: f64) -> (Vec<u8>, Vec<u32>) {
    let mut pool = Vec::with_capacity(len + 512);
    let mut starts = Vec::new();
    let mut id: u64 = rng.random_range(1..1_000_000);
    while pool.len() < len {
        starts.push(pool.len() as u32);
        id += 1;
        pool.extend_from_slice(format!("{{\"id\":{id},\"user\":\"").as_bytes());
        token(rng, &mut pool, c);
        pool.extend_from_slice(b"\",\"email\":\"");
        token(rng, &mut pool, c);
        pool.push(b'@');
        token(rng, &mut pool, c);
        pool.extend_from_slice(b".com\",\"status\":\"");
        token(rng, &mut pool, c);
        pool.extend_from_slice(b"\",\"score\":");
        number(rng, &mut pool, c);
        pool.extend_from_slice(b",\"tags\":[\"");
        token(rng, &mut pool, c);
        pool.extend_from_slice(b"\",\"");
        token(rng, &mut pool, c);
        pool.extend_from_slice(b"\"],\"bio\":\"");
        for word in 0..8 {
            if word > 0 {
                pool.push(b' ');
            }
            token(rng, &mut pool, c);
        }
        pool.extend_from_slice(b"\"}\n");
    }
    pool.truncate(len);
    (pool, starts)
}

#[cfg(test)]
mod tests {
    use super::super::goodness::{assert_fits, assert_share};
    use super::*;
    use crate::scenario::keyspace::{Distribution, WeightedSize};
    use std::io::Write;

    fn keyspace(value_size: ValueSize, value_content: ValueContent) -> Keyspace {
        Keyspace {
            keys: 10,
            prefix: "t:".into(),
            distribution: Distribution::Uniform,
            value_size,
            value_content,
            hash_tags: false,
        }
    }

    fn gzip_ratio(data: &[u8]) -> f64 {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(data).unwrap();
        enc.finish().unwrap().len() as f64 / data.len() as f64
    }

    fn sample_ratio(content: ValueContent) -> f64 {
        let gen = ValueGen::new(&keyspace(ValueSize::Fixed(64 << 10), content), 42);
        let mut rng = SmallRng::seed_from_u64(1);
        gzip_ratio(gen.value(&mut rng, 64 << 10))
    }

    #[test]
    fn random_content_does_not_compress() {
        let ratio = sample_ratio(ValueContent::Random);
        assert!(ratio > 0.95, "{ratio}");
    }

    #[test]
    fn json_compressibility_tunes_the_ratio() {
        let at = |compressibility| sample_ratio(ValueContent::Json { compressibility });
        let (low, default, high) = (at(0.0), at(0.7), at(1.0));
        assert!(default < 0.6, "compressibility 0.7 gave {default}");
        assert!(low > default && default > high, "{low} {default} {high}");
        assert!(high < 0.25, "{high}");
    }

    #[test]
    fn json_values_start_at_a_record() {
        let content = ValueContent::Json {
            compressibility: 0.5,
        };
        let gen = ValueGen::new(&keyspace(ValueSize::Fixed(300), content), 1);
        let mut rng = SmallRng::seed_from_u64(2);
        for _ in 0..100 {
            let v = gen.value(&mut rng, 300);
            assert_eq!((v.len(), v[0]), (300, b'{'));
        }
    }

    #[test]
    fn fixed_sizes_are_the_declared_size_and_values_have_it() {
        let mut rng = SmallRng::seed_from_u64(3);
        for content in [
            ValueContent::Random,
            ValueContent::Json {
                compressibility: 0.7,
            },
        ] {
            let gen = ValueGen::new(&keyspace(ValueSize::Fixed(4096), content), 1);
            for _ in 0..100 {
                let size = gen.size(&mut rng);
                assert_eq!((size, gen.value(&mut rng, size).len()), (4096, 4096));
            }
            assert_eq!(gen.max_size(), 4096);
        }
    }

    #[test]
    fn uniform_sizes_pass_a_chi_square_test() {
        let (min, max) = (100, 199);
        let gen = ValueGen::new(
            &keyspace(ValueSize::Uniform { min, max }, ValueContent::Random),
            1,
        );
        let mut rng = SmallRng::seed_from_u64(4);
        let samples = 50_000;
        let mut observed = vec![0u64; 100];
        for _ in 0..samples {
            let size = gen.size(&mut rng);
            assert!((100..=199).contains(&size), "{size}");
            assert_eq!(gen.value(&mut rng, size).len(), size);
            observed[size - 100] += 1;
        }
        assert_fits(
            "uniform value sizes",
            &observed,
            &[samples as f64 / 100.0; 100],
        );
        assert_eq!(gen.max_size(), 199);
    }

    #[test]
    fn weighted_sizes_pass_a_chi_square_test() {
        let declared = [(100, 3.0), (4096, 0.0), (1 << 20, 1.0), (512, 6.0)];
        let weighted = ValueSize::Weighted(
            declared
                .iter()
                .map(|&(size, weight)| WeightedSize { size, weight })
                .collect(),
        );
        let gen = ValueGen::new(&keyspace(weighted, ValueContent::Random), 1);
        let mut rng = SmallRng::seed_from_u64(5);
        let samples = 20_000;
        let mut observed = [0u64; 4];
        for _ in 0..samples {
            let size = gen.size(&mut rng);
            let slot = declared.iter().position(|&(s, _)| s as usize == size);
            observed[slot.unwrap_or_else(|| panic!("undeclared size {size}"))] += 1;
        }
        assert_eq!(observed[1], 0, "a size of weight 0 was drawn");
        let expected: Vec<f64> = [3.0, 1.0, 6.0]
            .iter()
            .map(|w| w / 10.0 * samples as f64)
            .collect();
        assert_fits(
            "weighted value sizes",
            &[observed[0], observed[2], observed[3]],
            &expected,
        );
        assert_eq!(gen.value(&mut rng, 1 << 20).len(), 1 << 20);
        let huge = gen.value(&mut rng, usize::MAX);
        assert_eq!(huge.len(), POOL_SLACK + (1 << 20));
    }

    /// Field values of the complete records in a JSON pool: (from the vocabulary, total).
    /// Every complete line must parse as a JSON object.
    fn vocabulary_share(pool: &[u8]) -> (u64, u64) {
        let text = std::str::from_utf8(pool).expect("JSON content is UTF-8");
        let (mut from_vocabulary, mut total) = (0, 0);
        for line in text.split_inclusive('\n').filter(|l| l.ends_with('\n')) {
            let record: serde_json::Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
            let field = |name: &str| record[name].as_str().unwrap_or_else(|| panic!("{name}"));
            let email = field("email")
                .strip_suffix(".com")
                .expect("email ends in .com");
            let (local, domain) = email.split_once('@').expect("email has an @");
            let tags = record["tags"].as_array().expect("tags").iter();
            let mut values = vec![field("user"), field("status"), local, domain];
            values.extend(tags.map(|t| t.as_str().expect("tag")));
            values.extend(field("bio").split(' '));
            assert_eq!(values.len(), 14, "{line}");
            // Numbers: a round hundred when drawn from the repeated side, random otherwise.
            let score = record["score"].as_u64().expect("score");
            let round = score % 100 == 0 && (100..=1000).contains(&score);
            total += values.len() as u64 + 1;
            from_vocabulary += values.iter().filter(|v| VOCABULARY.contains(v)).count() as u64;
            from_vocabulary += u64::from(round);
        }
        (from_vocabulary, total)
    }

    #[test]
    fn json_compressibility_is_the_declared_share_of_repeated_values() {
        // `compressibility` is declared as the share of field values drawn from the small
        // vocabulary; count them in the generated records.
        for compressibility in [0.0, 0.3, 0.7, 1.0] {
            let content = ValueContent::Json { compressibility };
            let gen = ValueGen::new(&keyspace(ValueSize::Fixed(1024), content), 9);
            let (hits, total) = vocabulary_share(&gen.pool);
            assert!(total > 100_000, "{total} field values");
            // Random digits can land on a round hundred (about 1 in 400 million): allow it.
            let p = compressibility.clamp(1e-6, 1.0 - 1e-6);
            assert_share(
                &format!("compressibility {compressibility}"),
                hits,
                total,
                p,
            );
        }
    }
}
