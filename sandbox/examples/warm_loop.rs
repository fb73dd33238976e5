//! Times one program run many ways in one process, side by side: a bare fork+exec, a cold
//! sandbox run, and a run in a warm environment, in alternating blocks. `bench/run.sh` uses it (as root).
//!
//! Usage: warm_loop RUNS PROGRAM [ARG...]; prints one line per way: name, median µs, p90 µs.
//! WAYS=warm (or a comma list of bare, cold, warm) times only those, for profiling one.

use std::time::Instant;

fn stats(mut v: Vec<f64>) -> (f64, f64) {
    v.sort_by(|a, b| a.total_cmp(b));
    (v[v.len() / 2], v[v.len() * 9 / 10])
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(runs), Some(program)) = (args.first().and_then(|n| n.parse::<usize>().ok()), args.get(1)) else {
        eprintln!("usage: warm_loop RUNS PROGRAM [ARG...]");
        std::process::exit(2);
    };
    let rest = &args[2..];
    let mut c = sandbox::Command::new(program);
    c.args(rest.iter().map(String::as_str));
    let mut env = match sandbox::Environment::new(c.config()) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("warm_loop: {e}");
            std::process::exit(1);
        }
    };
    let ways = std::env::var("WAYS").unwrap_or_else(|_| "bare,cold,warm".into());
    let way = |w: &str| ways.split(',').any(|x| x == w);
    let mut bare = Vec::new();
    let mut cold = Vec::new();
    let mut warm = Vec::new();
    // In alternating blocks, so that the machine's noise falls on all three alike, while
    // the background work a warm run leaves (its holder's reset, its cgroups) stays inside
    // the warm block: each block's first run, which may still share the machine with the
    // previous block's leftovers, is not counted.
    const BLOCK: usize = 20;
    let mut done = 0;
    while done < runs {
        let n = BLOCK.min(runs - done);
        for i in 0..=n {
            if way("bare") {
                let t = Instant::now();
                let st = std::process::Command::new(program).args(rest).status().expect("bare exec");
                if i > 0 {
                    bare.push(t.elapsed().as_secs_f64() * 1e6);
                }
                assert!(st.success());
            }
        }
        for i in 0..=n {
            if way("cold") {
                let t = Instant::now();
                let r = c.run().expect("cold run");
                if i > 0 {
                    cold.push(t.elapsed().as_secs_f64() * 1e6);
                }
                assert_eq!(r.status, sandbox::Status::Ok, "{r:?}");
            }
        }
        for i in 0..=n {
            if way("warm") {
                let t = Instant::now();
                let r = c.run_in(&mut env).expect("warm run");
                if i > 0 {
                    warm.push(t.elapsed().as_secs_f64() * 1e6);
                }
                assert_eq!(r.status, sandbox::Status::Ok, "{r:?}");
            }
        }
        done += n;
    }
    for (name, v) in [("bare", bare), ("cold", cold), ("warm", warm)].into_iter().filter(|(_, v)| !v.is_empty()) {
        let (med, p90) = stats(v);
        println!("{name} {med:.0} {p90:.0}");
    }
}
