//! Content-defined chunking: FastCDC (2020) with a secret gear seed.

use std::io::Read;

use fastcdc::v2020::{self, Normalization};

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

/// FastCDC's cut-point parameters for one backup: the sizes, the masks and
/// the gear tables seeded with the account's secret chunker seed (so
/// boundaries, and so chunk sizes, reveal less about content to the
/// service). Built once and shared by every file's [`Chunker`].
pub(crate) struct Cutter {
    min: usize,
    avg: usize,
    max: usize,
    mask_s: u64,
    mask_l: u64,
    gear: Box<[u64; 256]>,
    gear_ls: Box<[u64; 256]>,
}

impl Cutter {
    /// `sizes` must have passed [`ChunkSizes::validate`].
    pub(crate) fn new(sizes: ChunkSizes, seed: u64) -> Cutter {
        // As `StreamCDC::with_level_and_seed` with `Normalization::Level1`,
        // so boundaries match the chunks earlier versions stored.
        let bits = v2020::logarithm2(sizes.avg);
        let normalization = Normalization::Level1.bits();
        let (gear, gear_ls) = v2020::get_gear_with_seed(seed);
        Cutter {
            min: sizes.min as usize,
            avg: sizes.avg as usize,
            max: sizes.max as usize,
            mask_s: v2020::MASKS[(bits + normalization) as usize],
            mask_l: v2020::MASKS[(bits - normalization) as usize],
            gear,
            gear_ls,
        }
    }

    /// Length of the first chunk of `data`, which must hold at least `max`
    /// bytes or everything left of the stream.
    fn cut(&self, data: &[u8]) -> usize {
        let (_, len) = v2020::cut_gear(
            data,
            self.min,
            self.avg,
            self.max,
            self.mask_s,
            self.mask_l,
            self.mask_s << 1,
            self.mask_l << 1,
            &self.gear,
            &self.gear_ls,
        );
        len
    }
}

/// Splits `source` into chunks while reading it, holding at most twice the
/// maximum chunk size (and, for a file smaller than that, only the file).
///
/// fastcdc's own `StreamCDC` allocates and shifts a zeroed buffer of the
/// maximum chunk size (4 MiB) for every file and every chunk, which made a
/// small file cost a millisecond; this keeps one growing buffer and moves
/// the unread tail only when the buffer is full.
pub(crate) struct Chunker<'c, R: Read> {
    source: R,
    cutter: &'c Cutter,
    /// Bytes read and not yet handed out are `buf[start..]`.
    buf: Vec<u8>,
    start: usize,
    /// Expected size of the stream (e.g. the file's size), to size the
    /// buffer; a wrong hint costs only a reallocation.
    size_hint: u64,
    eof: bool,
    failed: bool,
}

impl<'c, R: Read> Chunker<'c, R> {
    pub(crate) fn new(source: R, cutter: &'c Cutter, size_hint: u64) -> Chunker<'c, R> {
        Chunker {
            source,
            cutter,
            buf: Vec::new(),
            start: 0,
            size_hint,
            eof: false,
            failed: false,
        }
    }

    /// Reads until `max` bytes are waiting or the stream ends.
    fn fill(&mut self) -> std::io::Result<()> {
        let max = self.cutter.max;
        if self.eof || self.buf.len() - self.start >= max {
            return Ok(());
        }
        if self.start > 0 && self.start + max > 2 * max {
            // Move the unread tail (less than `max` bytes) to the front.
            self.buf.drain(..self.start);
            self.start = 0;
        }
        // Sized once: the whole stream (plus the byte that shows its end)
        // when it is expected to be smaller than a maximum chunk, else
        // twice the maximum chunk.
        let planned = match usize::try_from(self.size_hint) {
            Ok(hint) if hint < max => hint + 1,
            _ => 2 * max,
        };
        if self.buf.capacity() < planned {
            self.buf.reserve_exact(planned - self.buf.len());
        }
        let want = self.start + max - self.buf.len();
        let read = (&mut self.source).take(want as u64).read_to_end(&mut self.buf)?;
        if read < want {
            self.eof = true;
        }
        Ok(())
    }
}

impl<R: Read> Iterator for Chunker<'_, R> {
    /// A chunk's bytes, or the read error that ended the stream.
    type Item = std::io::Result<Vec<u8>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        if let Err(e) = self.fill() {
            self.failed = true;
            return Some(Err(e));
        }
        let waiting = &self.buf[self.start..];
        if waiting.is_empty() {
            return None;
        }
        let len = self.cutter.cut(waiting);
        if self.start == 0 && len == self.buf.len() && self.eof {
            // The whole (small) stream is one chunk: hand the buffer over.
            return Some(Ok(std::mem::take(&mut self.buf)));
        }
        let chunk = waiting[..len].to_vec();
        self.start += len;
        Some(Ok(chunk))
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
        let cutter = Cutter::new(SIZES, seed);
        Chunker::new(bytes, &cutter, bytes.len() as u64)
            .map(|c| c.unwrap())
            .collect()
    }

    /// Hands out at most `step` bytes per read, like a pipe or a slow disk.
    struct Trickle<'a> {
        data: &'a [u8],
        step: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
            let n = self.data.len().min(self.step).min(out.len());
            out[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    #[test]
    fn boundaries_match_fastcdc_stream_chunker() {
        // Earlier versions chunked with fastcdc's StreamCDC; the same cuts
        // keep new backups deduplicating against what they stored.
        let sizes = ChunkSizes { min: 256 << 10, avg: 1 << 20, max: 4 << 20 };
        let mut rng = rand::rngs::StdRng::seed_from_u64(11);
        let mut bytes = vec![0u8; 13 << 20];
        rng.fill(&mut bytes[..5 << 20]);
        // A long run of zeros forces maximum-size chunks.
        rng.fill(&mut bytes[9 << 20..]);
        let cutter = Cutter::new(sizes, 99);
        for len in [0, 1, 4000, 300 << 10, 4 << 20, (4 << 20) + 1, bytes.len()] {
            let data = &bytes[..len];
            let expected: Vec<Vec<u8>> = v2020::StreamCDC::with_level_and_seed(
                data, sizes.min, sizes.avg, sizes.max, Normalization::Level1, 99,
            )
            .map(|c| c.unwrap().data)
            .collect();
            for (hint, step) in [(len as u64, usize::MAX), (0, 70_001), (len as u64 / 2, 1 << 20)] {
                let got: Vec<Vec<u8>> = Chunker::new(Trickle { data, step }, &cutter, hint)
                    .map(|c| c.unwrap())
                    .collect();
                assert_eq!(got, expected, "length {len}, hint {hint}, step {step}");
            }
        }
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
