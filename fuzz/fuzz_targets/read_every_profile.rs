//! Feeds arbitrary bytes to every shipped profile's reader, and writes whatever reads as valid
//! back out through every profile. A panic anywhere is a bug.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use originhub_core::profile::{Plan, compile};

static PLANS: LazyLock<Vec<Plan>> = LazyLock::new(|| {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../profiles");
    let mut plans = Vec::new();
    for entry in std::fs::read_dir(dir).expect("profiles folder") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "toml") {
            let source = std::fs::read_to_string(&path).expect("profile");
            plans.push(compile(&source, &path.display().to_string()).expect("shipped profile compiles"));
        }
    }
    plans
});

fuzz_target!(|data: &[u8]| {
    // The first byte picks the profile, so each run explores one reader deeply.
    let Some((&pick, input)) = data.split_first() else { return };
    let plan = &PLANS[usize::from(pick) % PLANS.len()];
    if let Ok((record, _)) = plan.read(input) {
        for target in PLANS.iter() {
            let _ = target.write(&record);
        }
    }
});
