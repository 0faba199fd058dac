//! Content-defined chunking: FastCDC (2020) with a secret gear seed.

use std::io::Read;

use fastcdc::v2020::{self, Normalization, StreamCDC};

use crate::error::{Error, ErrorKind, Result};

/// Chunk size bounds in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ChunkSizes {
    pub min: u32,
    pub avg: u32,
    pub max: u32,
}

impl ChunkSizes {
    /// Checks the sizes against FastCDC's limits (it panics outside them).
    ///
    /// # Errors
    /// `InvalidInput` naming the offending size.
    pub(crate) fn validate(&self) -> Result<()> {
        let check = |name: &str, value: u32, lo: u32, hi: u32| {
            if (lo..=hi).contains(&value) {
                Ok(())
            } else {
                Err(Error::new(
                    ErrorKind::InvalidInput,
                    format!("{name} chunk size {value} is outside {lo}..={hi}"),
                ))
            }
        };
        check("minimum", self.min, v2020::MINIMUM_MIN, v2020::MINIMUM_MAX)?;
        check("average", self.avg, v2020::AVERAGE_MIN, v2020::AVERAGE_MAX)?;
        check("maximum", self.max, v2020::MAXIMUM_MIN, v2020::MAXIMUM_MAX)?;
        if !(self.min <= self.avg && self.avg <= self.max) {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!("chunk sizes must satisfy min <= avg <= max, got {self:?}"),
            ));
        }
        Ok(())
    }
}

/// Splits `source` into chunks while reading it, holding at most `max` bytes
/// at a time. `seed` is the account's secret chunker seed, so boundaries (and
/// so chunk sizes) reveal less about content to the service.
pub(crate) struct Chunker<R: Read> {
    inner: StreamCDC<R>,
    failed: bool,
}

impl<R: Read> Chunker<R> {
    /// `sizes` must have passed [`ChunkSizes::validate`].
    pub(crate) fn new(source: R, sizes: ChunkSizes, seed: u64) -> Chunker<R> {
        let inner = StreamCDC::with_level_and_seed(
            source,
            sizes.min,
            sizes.avg,
            sizes.max,
            Normalization::Level1,
            seed,
        );
        Chunker {
            inner,
            failed: false,
        }
    }
}

impl<R: Read> Iterator for Chunker<R> {
    /// A chunk's bytes, or the read error that ended the stream.
    type Item = std::io::Result<Vec<u8>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        match self.inner.next()? {
            Ok(chunk) => Some(Ok(chunk.data)),
            Err(e) => {
                self.failed = true;
                Some(Err(e.into()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    const SIZES: ChunkSizes = ChunkSizes {
        min: 256,
        avg: 1024,
        max: 4096,
    };

    fn data(len: usize) -> Vec<u8> {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        (0..len).map(|_| rng.gen()).collect()
    }

    fn cut(bytes: &[u8], seed: u64) -> Vec<Vec<u8>> {
        Chunker::new(bytes, SIZES, seed)
            .map(|c| c.unwrap())
            .collect()
    }

    #[test]
    fn deterministic_and_complete() {
        let bytes = data(100_000);
        let a = cut(&bytes, 42);
        assert_eq!(a, cut(&bytes, 42));
        assert_eq!(a.concat(), bytes);
        assert!(a.len() > 10);
        assert!(a.iter().all(|c| c.len() <= SIZES.max as usize));
        assert!(a[..a.len() - 1]
            .iter()
            .all(|c| c.len() >= SIZES.min as usize));
        assert!(cut(&[], 42).is_empty());
    }

    #[test]
    fn seed_changes_boundaries() {
        let bytes = data(100_000);
        let lens = |seed| cut(&bytes, seed).iter().map(Vec::len).collect::<Vec<_>>();
        assert_ne!(lens(1), lens(2));
    }

    #[test]
    fn boundaries_resynchronise_after_an_insert() {
        let bytes = data(100_000);
        let mut edited = b"inserted at the front".to_vec();
        edited.extend_from_slice(&bytes);
        let before = cut(&bytes, 5);
        let after = cut(&edited, 5);
        let shared = after.iter().filter(|c| before.contains(c)).count();
        assert!(shared >= before.len() - 3, "{shared} of {}", before.len());
    }

    #[test]
    fn rejects_sizes_fastcdc_cannot_take() {
        assert!(SIZES.validate().is_ok());
        let bad = [
            ChunkSizes { min: 1, ..SIZES },
            ChunkSizes { max: 100, ..SIZES },
            ChunkSizes {
                min: 2048,
                avg: 1024,
                max: 4096,
            },
            ChunkSizes {
                min: 256,
                avg: 8192,
                max: 4096,
            },
        ];
        for sizes in bad {
            assert_eq!(
                sizes.validate().unwrap_err().kind(),
                ErrorKind::InvalidInput
            );
        }
    }
}
