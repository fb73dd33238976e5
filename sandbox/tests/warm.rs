//! Warm environments: runs in one environment see nothing of the runs before them.

mod common;
use common::*;
use sandbox::{Command, Environment, Status};

fn env_for(c: &Command) -> Environment {
    Environment::new(c.config()).expect("a warm environment")
}

#[test]
fn smoke() {
    let c = c_probe(&["exit", "0"]);
    let mut env = env_for(&c);
    for _ in 0..3 {
        let r = c.run_in(&mut env).unwrap();
        assert_eq!(r.status, Status::Ok, "{r:?}");
    }
    let mut c = c_probe(&["exit", "3"]);
    let r = c.run_in(&mut env).unwrap();
    assert_eq!(r.status, Status::NonzeroExit, "{r:?}");
    let _ = &mut c;
}
