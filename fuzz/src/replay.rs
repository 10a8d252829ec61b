//! Replays the inputs kept for a fuzz target through its check: every file of
//! `fuzz/regressions/TARGET/` (inputs that once failed) and every `seed-*` of
//! `fuzz/corpus/TARGET/`; then a short smoke run of mutated inputs. Included by the crates'
//! regression tests with `#[path]`, so `cargo test` (and CI) runs every target's checks
//! without nightly flags or a second build of the workspace.

use std::path::{Path, PathBuf};

/// Runs `check` on each kept input of `target`, naming the file before it runs so a
/// failure says which input broke. `fuzz` is the fuzz crate's folder.
pub fn replay(fuzz: &Path, target: &str, check: fn(&[u8])) {
    let mut files = kept(&fuzz.join("regressions").join(target), |_| true);
    files.extend(kept(&fuzz.join("corpus").join(target), |name| {
        name.starts_with("seed-")
    }));
    assert!(
        !files.is_empty(),
        "no seeds or regressions for the fuzz target {target} under {}",
        fuzz.display()
    );
    let mut inputs = Vec::with_capacity(files.len());
    for file in files {
        let data = std::fs::read(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        eprintln!("replaying {}", file.display());
        check(&data);
        inputs.push(data);
    }
    smoke(target, &inputs, check);
}

/// How many mutated inputs [`smoke`] runs per target unless `WASMESH_FUZZ_SMOKE` says, and
/// how long it may take at most (a slow target, such as `abi`, stops at the time).
const SMOKE_INPUTS: usize = 5000;
const SMOKE_TIME: std::time::Duration = std::time::Duration::from_secs(2);

/// CI's smoke run: inputs made from the kept ones by random edits (bytes flipped, inserted,
/// deleted, repeated; two inputs spliced), from a seed fixed per target so a failure
/// repeats, through the same check. Not coverage-guided — `scripts/fuzz` is — but it reaches
/// every target on every test run. A failing input is printed and written to
/// `fuzz/artifacts/TARGET/smoke-N` for `scripts/fuzz` to take over.
fn smoke(target: &str, kept: &[Vec<u8>], check: fn(&[u8])) {
    let count = std::env::var("WASMESH_FUZZ_SMOKE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(SMOKE_INPUTS);
    let mut rng = Rng::new(target);
    let started = std::time::Instant::now();
    for n in 0..count {
        if started.elapsed() > SMOKE_TIME {
            eprintln!("smoke: {target}: {n} mutated inputs in {SMOKE_TIME:?}");
            break;
        }
        let input = rng.mutate(kept);
        if let Err(panic) = std::panic::catch_unwind(|| check(&input)) {
            let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../fuzz/artifacts")
                .join(target);
            let file = dir.join(format!("smoke-{n}"));
            let saved = std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(&file, &input));
            eprintln!(
                "smoke input {n} of {target} failed ({}): {:?}",
                match saved {
                    Ok(()) => format!("saved as {}", file.display()),
                    Err(e) => format!("not saved: {e}"),
                },
                String::from_utf8_lossy(&input)
            );
            std::panic::resume_unwind(panic);
        }
    }
}

/// xorshift64*: small, fixed, and the same on every machine.
struct Rng(u64);

impl Rng {
    fn new(target: &str) -> Rng {
        // FNV-1a of the target's name: each target its own stream.
        let seed = target.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
        });
        Rng(seed | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn mutate(&mut self, kept: &[Vec<u8>]) -> Vec<u8> {
        let mut data = kept[self.below(kept.len())].clone();
        for _ in 0..1 + self.below(4) {
            let at = self.below(data.len() + 1);
            match self.below(5) {
                0 if at < data.len() => data[at] ^= 1 << self.below(8),
                1 => data.insert(at, self.next() as u8),
                2 if at < data.len() => {
                    data.remove(at);
                }
                3 if at < data.len() => {
                    let end = (at + 1 + self.below(16)).min(data.len());
                    let piece = data[at..end].to_vec();
                    data.splice(at..at, piece);
                }
                _ => {
                    let other = &kept[self.below(kept.len())];
                    let from = self.below(other.len() + 1);
                    data.truncate(at);
                    data.extend_from_slice(&other[from..]);
                }
            }
        }
        data
    }
}

fn kept(dir: &Path, wanted: fn(&str) -> bool) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.expect("a readable folder").path())
        .filter(|p| p.is_file())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n != ".gitkeep" && n != "README.md" && wanted(n))
        })
        .collect();
    files.sort();
    files
}
