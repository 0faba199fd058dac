#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    coffer_engine::fuzzing::pack_file(data);
});
