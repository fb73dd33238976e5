//! Seccomp policies as data (JSON) and their compilation to BPF, done in the parent.
//!
//! A policy lists rules; each names syscalls, optional argument conditions (all must hold)
//! and an action: `block` (the run is stopped and reported as `syscall_blocked` with the
//! syscall's name) or `{"errno": N}` (the call fails with N and the program goes on).
//! Everything not matched is allowed. Syscalls of other ABIs (i386, x32) always kill.
//!
//! `block` is delivered through a seccomp user notification: the blocked thread waits in the
//! kernel, the parent reads the syscall number from the listener, records it and kills the
//! run. The program cannot catch, ignore or fake it, unlike SIGSYS from `SECCOMP_RET_TRAP`.

mod syscalls_x86_64;

use seccompiler::{
    sock_filter, BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// The policy compiled into the library, used for `seccomp: "default"`.
pub const DEFAULT_POLICY: &str = include_str!("../../policies/default.json");

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    #[serde(default)]
    pub comment: String,
    pub rules: Vec<Rule>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub syscalls: Vec<String>,
    pub action: Action,
    /// Conditions on the arguments; the rule applies when all hold. Empty: always.
    #[serde(default)]
    pub args: Vec<ArgCondition>,
    #[serde(default)]
    pub comment: String,
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Block,
    Errno(u32),
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArgCondition {
    /// Argument index, 0 to 5.
    pub index: u8,
    pub op: Op,
    pub value: u64,
    /// For `masked_eq`: `(arg & mask) == value`.
    #[serde(default)]
    pub mask: u64,
    /// 32 for arguments the kernel reads as `int` (ioctl's request, personality): the upper
    /// half is then ignored, as the kernel ignores it, so it cannot be used to slip past.
    #[serde(default = "default_bits")]
    pub bits: u8,
}

fn default_bits() -> u8 {
    64
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    Eq,
    Ne,
    MaskedEq,
}

/// One BPF program to install; `notify` marks the one whose matches are `block`.
pub(crate) struct CompiledFilter {
    pub program: Vec<sock_filter>,
    pub notify: bool,
}

const SECCOMP_RET_TRAP: u32 = 0x0003_0000;
const SECCOMP_RET_USER_NOTIF: u32 = 0x7fc0_0000;
const SECCOMP_RET_KILL_PROCESS: u32 = 0x8000_0000;
const SECCOMP_RET_ALLOW: u32 = 0x7fff_0000;
const X32_SYSCALL_BIT: u32 = 0x4000_0000;

impl Policy {
    /// `default`, `none` (no filter at all), or a path to a JSON policy file.
    pub fn load(name: &str) -> Result<Option<Policy>, String> {
        match name {
            "none" => Ok(None),
            "default" => Policy::parse(DEFAULT_POLICY, "the built-in default policy").map(Some),
            path => {
                let text =
                    std::fs::read_to_string(Path::new(path)).map_err(|e| format!("seccomp policy {path}: {e}"))?;
                Policy::parse(&text, path).map(Some)
            }
        }
    }

    pub fn parse(text: &str, origin: &str) -> Result<Policy, String> {
        let policy: Policy = serde_json::from_str(text).map_err(|e| format!("seccomp policy {origin}: {e}"))?;
        for rule in &policy.rules {
            for name in &rule.syscalls {
                if syscall_number(name).is_none() {
                    return Err(format!("seccomp policy {origin}: unknown syscall {name:?}"));
                }
            }
            if let Some(a) = rule.args.iter().find(|a| a.index > 5) {
                return Err(format!("seccomp policy {origin}: argument index {} is not 0..5", a.index));
            }
            if let Some(a) = rule.args.iter().find(|a| a.bits != 32 && a.bits != 64) {
                return Err(format!("seccomp policy {origin}: bits must be 32 or 64, not {}", a.bits));
            }
        }
        Ok(policy)
    }

    /// BPF programs for this policy: one per action, plus the ABI guard.
    pub(crate) fn compile(&self) -> Result<Vec<CompiledFilter>, String> {
        // Per action and syscall: None = always, Some(rules) = when any rule's conditions hold.
        let mut by_action: BTreeMap<Action, BTreeMap<i64, Option<Vec<SeccompRule>>>> = BTreeMap::new();
        for rule in &self.rules {
            let conditions = rule
                .args
                .iter()
                .map(|a| {
                    let op = match a.op {
                        Op::Eq => SeccompCmpOp::Eq,
                        Op::Ne => SeccompCmpOp::Ne,
                        Op::MaskedEq => SeccompCmpOp::MaskedEq(a.mask),
                    };
                    let len = if a.bits == 32 { SeccompCmpArgLen::Dword } else { SeccompCmpArgLen::Qword };
                    SeccompCondition::new(a.index, len, op, a.value)
                        .map_err(|e| format!("seccomp rule {:?}: {e}", rule.syscalls))
                })
                .collect::<Result<Vec<_>, _>>()?;
            for name in &rule.syscalls {
                let nr = syscall_number(name).ok_or_else(|| format!("unknown syscall {name:?}"))?;
                let slot = by_action.entry(rule.action).or_default().entry(nr).or_insert_with(|| Some(Vec::new()));
                match (slot.as_mut(), conditions.is_empty()) {
                    (_, true) => *slot = None,
                    (Some(rules), false) => {
                        rules.push(SeccompRule::new(conditions.clone()).map_err(|e| e.to_string())?)
                    }
                    (None, false) => {}
                }
            }
        }
        let mut filters = vec![CompiledFilter { program: abi_guard(), notify: false }];
        for (action, chains) in by_action {
            // seccompiler encodes "always" as an empty chain.
            let rules: BTreeMap<i64, Vec<SeccompRule>> =
                chains.into_iter().map(|(nr, chain)| (nr, chain.unwrap_or_default())).collect();
            let match_action = match action {
                Action::Block => SeccompAction::Trap,
                Action::Errno(n) => SeccompAction::Errno(n),
            };
            let filter = SeccompFilter::new(rules, SeccompAction::Allow, match_action, arch())
                .map_err(|e| format!("seccomp: {e}"))?;
            let mut program: BpfProgram = filter.try_into().map_err(|e| format!("seccomp: {e}"))?;
            let notify = action == Action::Block;
            if notify {
                // seccompiler has no user-notification action: compile as TRAP, then turn
                // each TRAP return into USER_NOTIF. Only return statements carry actions.
                for ins in program.iter_mut() {
                    if ins.code == (libc::BPF_RET | libc::BPF_K) as u16 && ins.k & 0xffff_0000 == SECCOMP_RET_TRAP {
                        ins.k = SECCOMP_RET_USER_NOTIF;
                    }
                }
            }
            filters.push(CompiledFilter { program, notify });
        }
        Ok(filters)
    }
}

fn arch() -> seccompiler::TargetArch {
    seccompiler::TargetArch::x86_64
}

/// Kills the process on any syscall of another ABI: a non-x86_64 audit arch (i386 via
/// int 0x80) or the x32 numbering on x86_64. Rules written for x86_64 numbers say nothing
/// about those, so they must not run at all.
fn abi_guard() -> Vec<sock_filter> {
    const AUDIT_ARCH_X86_64: u32 = 62 | 0x8000_0000 | 0x4000_0000;
    let stmt = |code: u32, k: u32| sock_filter { code: code as u16, jt: 0, jf: 0, k };
    let jump = |code: u32, k: u32, jt: u8, jf: u8| sock_filter { code: code as u16, jt, jf, k };
    vec![
        stmt(libc::BPF_LD | libc::BPF_W | libc::BPF_ABS, 4), // seccomp_data.arch
        jump(libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K, AUDIT_ARCH_X86_64, 1, 0),
        stmt(libc::BPF_RET | libc::BPF_K, SECCOMP_RET_KILL_PROCESS),
        stmt(libc::BPF_LD | libc::BPF_W | libc::BPF_ABS, 0), // seccomp_data.nr
        jump(libc::BPF_JMP | libc::BPF_JGE | libc::BPF_K, X32_SYSCALL_BIT, 0, 1),
        stmt(libc::BPF_RET | libc::BPF_K, SECCOMP_RET_KILL_PROCESS),
        stmt(libc::BPF_RET | libc::BPF_K, SECCOMP_RET_ALLOW),
    ]
}

pub fn syscall_number(name: &str) -> Option<i64> {
    syscalls_x86_64::SYSCALLS.iter().find(|(n, _)| *n == name).map(|(_, nr)| *nr)
}

pub fn syscall_name(nr: i64) -> Option<&'static str> {
    syscalls_x86_64::SYSCALLS.iter().find(|(_, n)| *n == nr).map(|(name, _)| *name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_policy_parses_and_compiles() {
        let policy = Policy::load("default").unwrap().unwrap();
        let filters = policy.compile().unwrap();
        assert!(filters.iter().any(|f| f.notify));
        let notify = filters.iter().find(|f| f.notify).unwrap();
        assert!(notify.program.iter().any(|i| i.k == SECCOMP_RET_USER_NOTIF));
        assert!(!notify
            .program
            .iter()
            .any(|i| i.code == (libc::BPF_RET | libc::BPF_K) as u16 && i.k == SECCOMP_RET_TRAP));
    }

    #[test]
    fn an_unknown_syscall_name_is_an_error_naming_it() {
        let err = Policy::parse(r#"{"rules":[{"syscalls":["frobnicate"],"action":"block"}]}"#, "p.json").unwrap_err();
        assert!(err.contains("frobnicate"), "{err}");
    }

    #[test]
    fn names_and_numbers_round_trip() {
        assert_eq!(syscall_number("ptrace"), Some(101));
        assert_eq!(syscall_name(101), Some("ptrace"));
    }
}
