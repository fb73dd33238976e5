//! Seccomp policies as data (JSON) and their compilation to BPF, done in the parent.
//!
//! A policy lists rules; each names syscalls, optional argument conditions (all must hold)
//! and an action: `block` (the run is stopped and reported as `syscall_blocked` with the
//! syscall's name) or `{"errno": N}` (the call fails with N and the program goes on).
//! Everything not matched is allowed.
//!
//! `block` is delivered through a seccomp user notification: the blocked thread waits in the
//! kernel, the parent reads the syscall from the listener, records it and kills the run.
//! A SIGSYS, from `SECCOMP_RET_TRAP` or `SECCOMP_RET_KILL_*`, would prove nothing: the
//! program can catch or ignore the first and raise the same signal itself. So the compiled
//! programs only ever return ALLOW, ERRNO or USER_NOTIF, and every stopped run was stopped
//! by the parent, with the syscall named.
//!
//! The kernel gives a process one listener, so every `block` goes through one filter (the
//! notify filter), always emitted, even for a policy without `block`: it starts with the ABI
//! guard. Rules are written in x86_64 numbers, which mean other calls under i386 (`int 0x80`,
//! another audit arch) and x32 (bit 30 of the number), so a call of those ABIs is stopped
//! like `block` before any rule is looked at; the parent names it with
//! [`describe_notification`]. The kernel runs every filter and keeps the strongest action,
//! KILL > TRAP > ERRNO > USER_NOTIF > ALLOW: an ERRNO from another filter would win over the
//! notification, so the other filters allow anything non-native and leave it to the guard.
//!
//! Numbers above the syscall table fail with ENOSYS: a kernel newer than the table offers
//! calls nobody has judged yet, and ENOSYS is the answer programs expect (and fall back
//! from) on a kernel that lacks a call.
//!
//! seccompiler builds the rule programs. It has no USER_NOTIF, so `block` rules are compiled
//! as TRAP and patched; and its programs open with an architecture check that kills, which
//! is replaced by the guard.

#[cfg(not(target_arch = "x86_64"))]
compile_error!(
    "the sandbox's seccomp policies only have an x86_64 syscall table (sandbox/src/seccomp/syscalls_x86_64.rs) \
     and an x86_64 ABI guard; add a syscall table, audit arch and ABI checks for this architecture to \
     sandbox/src/seccomp before building for it"
);

mod syscalls_x86_64;

use seccompiler::{
    sock_filter, BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;
use syscalls_x86_64::MAX_KNOWN;

/// The policy compiled into the library, used for `seccomp: "default"`.
pub const DEFAULT_POLICY: &str = include_str!("../../policies/default.json");

/// A seccomp policy: rules, each naming syscalls, the argument conditions under which it
/// applies and what then happens. Everything no rule matches is allowed.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Free text for the reader: what the policy is for.
    #[serde(default)]
    pub comment: String,
    /// The rules; their order does not matter.
    pub rules: Vec<Rule>,
}

/// Syscalls and what happens when one of them is called (under the conditions in `args`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// x86_64 syscall names, as in the kernel's syscall table.
    pub syscalls: Vec<String>,
    /// What happens when the rule matches.
    pub action: Action,
    /// Conditions on the arguments; the rule applies when all hold. Empty: always.
    #[serde(default)]
    pub args: Vec<ArgCondition>,
    /// Free text for the reader: why the rule is there.
    #[serde(default)]
    pub comment: String,
}

/// What a matching rule does.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// The run is stopped and reported as `syscall_blocked`, naming the syscall.
    Block,
    /// The call fails with this errno and the program goes on.
    Errno(u32),
}

/// A condition on one syscall argument.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ArgCondition {
    /// Argument index, 0 to 5.
    pub index: u8,
    /// How the argument is compared with `value`.
    pub op: Op,
    /// The value compared with.
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

/// Comparison of an argument with a condition's value.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    /// `arg == value`
    Eq,
    /// `arg != value`
    Ne,
    /// `arg & mask == value`
    MaskedEq,
}

/// One BPF program to install; `notify` marks the one whose matches are `block`.
pub(crate) struct CompiledFilter {
    pub program: Vec<sock_filter>,
    pub notify: bool,
}

const SECCOMP_RET_TRAP: u32 = 0x0003_0000;
const SECCOMP_RET_ERRNO: u32 = 0x0005_0000;
const SECCOMP_RET_USER_NOTIF: u32 = 0x7fc0_0000;
const SECCOMP_RET_KILL_PROCESS: u32 = 0x8000_0000;
const SECCOMP_RET_ALLOW: u32 = 0x7fff_0000;
const SECCOMP_RET_ACTION_FULL: u32 = 0xffff_0000;
const X32_SYSCALL_BIT: u32 = 0x4000_0000;
const AUDIT_ARCH_X86_64: u32 = 62 | 0x8000_0000 | 0x4000_0000;
const AUDIT_ARCH_I386: u32 = 3 | 0x4000_0000;
/// Offsets in `struct seccomp_data`.
const DATA_NR: u32 = 0;
const DATA_ARCH: u32 = 4;
/// The kernel's limit on one program (BPF_MAXINSNS).
const MAX_PROGRAM_LEN: usize = 4096;

// The ENOSYS check compares the number as unsigned below the x32 bit.
const _: () = assert!(MAX_KNOWN > 0 && MAX_KNOWN < X32_SYSCALL_BIT as i64);

/// Per syscall number: `None` = always, `Some(rules)` = when any rule's conditions hold.
type Chains = BTreeMap<i64, Option<Vec<SeccompRule>>>;

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

    /// Parses and checks a policy; `origin` names it in errors.
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

    /// BPF programs for this policy: the ENOSYS filter for numbers beyond the table, one
    /// filter per errno value, and the notify filter (ABI guard and `block` rules), always
    /// exactly one.
    pub(crate) fn compile(&self) -> Result<Vec<CompiledFilter>, String> {
        let mut by_action: BTreeMap<Action, Chains> = BTreeMap::new();
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
        let block = by_action.remove(&Action::Block).unwrap_or_default();

        let mut filters =
            vec![CompiledFilter { program: checked(unknown_numbers(), SECCOMP_RET_ERRNO)?, notify: false }];
        for (action, chains) in by_action {
            let Action::Errno(n) = action else { unreachable!("block was taken out above") };
            let mut program = abi_guard(SECCOMP_RET_ALLOW);
            program.extend(rules_program(chains, SeccompAction::Errno(n))?);
            filters.push(CompiledFilter { program: checked(program, SECCOMP_RET_ERRNO)?, notify: false });
        }

        // seccompiler has no user-notification action: compile as TRAP, then turn each TRAP
        // return into USER_NOTIF. Only return statements carry actions.
        let mut rules = rules_program(block, SeccompAction::Trap)?;
        for ins in rules.iter_mut() {
            if ins.code == RET_K && ins.k & SECCOMP_RET_ACTION_FULL == SECCOMP_RET_TRAP {
                ins.k = SECCOMP_RET_USER_NOTIF;
            }
        }
        let mut program = abi_guard(SECCOMP_RET_USER_NOTIF);
        program.extend(rules);
        filters.push(CompiledFilter { program: checked(program, SECCOMP_RET_USER_NOTIF)?, notify: true });
        Ok(filters)
    }
}

fn arch() -> seccompiler::TargetArch {
    seccompiler::TargetArch::x86_64
}

const LD_ABS: u16 = (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16;
const JEQ_K: u16 = (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16;
const JGT_K: u16 = (libc::BPF_JMP | libc::BPF_JGT | libc::BPF_K) as u16;
const JSET_K: u16 = (libc::BPF_JMP | libc::BPF_JSET | libc::BPF_K) as u16;
const RET_K: u16 = (libc::BPF_RET | libc::BPF_K) as u16;

fn stmt(code: u16, k: u32) -> sock_filter {
    sock_filter { code, jt: 0, jf: 0, k }
}

fn jump(code: u16, k: u32, jt: u8, jf: u8) -> sock_filter {
    sock_filter { code, jt, jf, k }
}

/// Returns `non_native` for a syscall of another ABI, a non-x86_64 audit arch (i386 via
/// `int 0x80`) or the x32 numbering, and falls through to the instruction after it
/// otherwise. Its jumps stay inside it, so anything can be appended.
fn abi_guard(non_native: u32) -> Vec<sock_filter> {
    vec![
        stmt(LD_ABS, DATA_ARCH),
        jump(JEQ_K, AUDIT_ARCH_X86_64, 1, 0),
        stmt(RET_K, non_native),
        stmt(LD_ABS, DATA_NR),
        jump(JSET_K, X32_SYSCALL_BIT, 0, 1),
        stmt(RET_K, non_native),
    ]
}

/// ENOSYS for native numbers above the table: calls of a kernel newer than the table, that
/// nobody has decided about. Non-native calls are allowed here: the notify filter stops them,
/// and an ERRNO from this filter would take precedence over its notification.
fn unknown_numbers() -> Vec<sock_filter> {
    let mut program = abi_guard(SECCOMP_RET_ALLOW);
    program.extend([
        stmt(LD_ABS, DATA_NR),
        jump(JGT_K, MAX_KNOWN as u32, 0, 1),
        stmt(RET_K, SECCOMP_RET_ERRNO | libc::ENOSYS as u32),
        stmt(RET_K, SECCOMP_RET_ALLOW),
    ]);
    program
}

/// seccompiler's program for `chains` (default ALLOW), without its architecture check: the
/// caller puts [`abi_guard`] in its place.
fn rules_program(chains: Chains, on_match: SeccompAction) -> Result<Vec<sock_filter>, String> {
    // seccompiler encodes "always" as an empty chain.
    let rules: BTreeMap<i64, Vec<SeccompRule>> =
        chains.into_iter().map(|(nr, chain)| (nr, chain.unwrap_or_default())).collect();
    let filter =
        SeccompFilter::new(rules, SeccompAction::Allow, on_match, arch()).map_err(|e| format!("seccomp: {e}"))?;
    let mut program: BpfProgram = filter.try_into().map_err(|e| format!("seccomp: {e}"))?;
    // Its check kills on another arch, which must reach the guard's notification instead.
    // Dropping it is safe: BPF jumps go forward only, so nothing after it jumps into it, and
    // its own jump lands right after it.
    let arch_check =
        [stmt(LD_ABS, DATA_ARCH), jump(JEQ_K, AUDIT_ARCH_X86_64, 1, 0), stmt(RET_K, SECCOMP_RET_KILL_PROCESS)];
    if !program.starts_with(&arch_check) {
        return Err("seccomp: the program from seccompiler does not open with the architecture check \
                    this code replaces; check the seccompiler version"
            .to_string());
    }
    program.drain(..arch_check.len());
    Ok(program)
}

/// Refuses a program the kernel would reject or that could end the run by itself: every
/// return must be ALLOW or `verdict` (the filter's one action), every jump must land inside.
fn checked(program: Vec<sock_filter>, verdict: u32) -> Result<Vec<sock_filter>, String> {
    if program.len() > MAX_PROGRAM_LEN {
        return Err(format!(
            "seccomp: a filter has {} instructions, more than the kernel's {MAX_PROGRAM_LEN}",
            program.len()
        ));
    }
    for (pc, ins) in program.iter().enumerate() {
        let class = u32::from(ins.code) & 0x07;
        if class == libc::BPF_RET {
            let action = ins.k & SECCOMP_RET_ACTION_FULL;
            if ins.code != RET_K || (action != SECCOMP_RET_ALLOW && action != verdict) {
                return Err(format!("seccomp: instruction {pc} returns {:#x}, not ALLOW or {verdict:#x}", ins.k));
            }
        } else if class == libc::BPF_JMP {
            let furthest = if u32::from(ins.code) & 0xf0 == libc::BPF_JA {
                ins.k as usize
            } else {
                usize::from(ins.jt.max(ins.jf))
            };
            if pc + 1 + furthest >= program.len() {
                return Err(format!("seccomp: instruction {pc} jumps past the end"));
            }
        }
    }
    match program.last() {
        Some(last) if last.code == RET_K => Ok(program),
        _ => Err("seccomp: a filter does not end with a return".to_string()),
    }
}

/// The x86_64 number of a syscall name, if the table has it.
pub fn syscall_number(name: &str) -> Option<i64> {
    syscalls_x86_64::SYSCALLS.iter().find(|(n, _)| *n == name).map(|(_, nr)| *nr)
}

/// The name of an x86_64 syscall number, if the table has it.
pub fn syscall_name(nr: i64) -> Option<&'static str> {
    syscalls_x86_64::SYSCALLS.iter().find(|(_, n)| *n == nr).map(|(name, _)| *name)
}

/// Names the syscall of a seccomp notification (`nr` and `arch` of `struct seccomp_notif`)
/// for the report: the name for a native x86_64 call, the ABI and number otherwise (the
/// number of another ABI is not the x86_64 call of that number).
pub fn describe_notification(nr: i32, arch: u32) -> String {
    let bits = nr as u32;
    match arch {
        AUDIT_ARCH_X86_64 if bits & X32_SYSCALL_BIT != 0 => {
            format!("x32 syscall #{} (non-native ABI)", bits & !X32_SYSCALL_BIT)
        }
        AUDIT_ARCH_X86_64 => syscall_name(i64::from(nr)).map_or_else(|| format!("syscall #{nr}"), str::to_string),
        AUDIT_ARCH_I386 => format!("i386 syscall #{nr} (non-native ABI)"),
        other => format!("syscall #{nr} of audit arch {other:#x} (non-native ABI)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ENOSYS: u32 = SECCOMP_RET_ERRNO | 38;
    const EPERM: u32 = SECCOMP_RET_ERRNO | 1;
    const EAFNOSUPPORT: u32 = SECCOMP_RET_ERRNO | 97;
    const AF_UNIX: u64 = 1;
    const AF_INET: u64 = 2;
    const AF_INET6: u64 = 10;
    const AF_KEY: u64 = 15;
    const AF_NETLINK: u64 = 16;
    const AF_PACKET: u64 = 17;
    const AF_BLUETOOTH: u64 = 31;
    const AF_ALG: u64 = 38;
    const AF_VSOCK: u64 = 40;
    const O_CREAT: u64 = 0o100;
    const O_TMPFILE: u64 = 0o20200000;
    const AT_FDCWD: u64 = -100i64 as u64;
    const CLONE_NEWUSER: u64 = 0x1000_0000;
    const TIOCSTI: u64 = 0x5412;
    const PATH: u64 = 0x7ffd_1234_5000;

    fn default_filters() -> Vec<CompiledFilter> {
        Policy::load("default").unwrap().unwrap().compile().unwrap()
    }

    fn nr(name: &str) -> i32 {
        syscall_number(name).unwrap_or_else(|| panic!("{name} is not in the table")) as i32
    }

    /// `struct seccomp_data` as the kernel lays it out on x86_64 (little-endian).
    fn seccomp_data(nr: i32, arch: u32, args: [u64; 6]) -> [u8; 64] {
        let mut data = [0u8; 64];
        data[0..4].copy_from_slice(&nr.to_le_bytes());
        data[4..8].copy_from_slice(&arch.to_le_bytes());
        data[8..16].copy_from_slice(&0x40_1000u64.to_le_bytes());
        for (i, arg) in args.iter().enumerate() {
            data[16 + 8 * i..24 + 8 * i].copy_from_slice(&arg.to_le_bytes());
        }
        data
    }

    /// Classic BPF as the kernel's seccomp runs it, limited to the instructions our programs
    /// use: any other opcode, an unaligned or out-of-range load or running off the end fails.
    fn run(program: &[sock_filter], data: &[u8; 64]) -> u32 {
        let mut acc: u32 = 0;
        let mut pc = 0usize;
        loop {
            let ins = program.get(pc).unwrap_or_else(|| panic!("ran off the end of the program at {pc}"));
            pc += 1;
            let code = u32::from(ins.code);
            let taken = |cond: bool| usize::from(if cond { ins.jt } else { ins.jf });
            match code {
                c if c == libc::BPF_LD | libc::BPF_W | libc::BPF_ABS => {
                    let off = ins.k as usize;
                    assert!(off.is_multiple_of(4) && off + 4 <= data.len(), "load at offset {off}");
                    acc = u32::from_le_bytes(data[off..off + 4].try_into().unwrap());
                }
                c if c == libc::BPF_ALU | libc::BPF_AND | libc::BPF_K => acc &= ins.k,
                c if c == libc::BPF_JMP | libc::BPF_JA => pc += ins.k as usize,
                c if c == libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K => pc += taken(acc == ins.k),
                c if c == libc::BPF_JMP | libc::BPF_JGT | libc::BPF_K => pc += taken(acc > ins.k),
                c if c == libc::BPF_JMP | libc::BPF_JGE | libc::BPF_K => pc += taken(acc >= ins.k),
                c if c == libc::BPF_JMP | libc::BPF_JSET | libc::BPF_K => pc += taken(acc & ins.k != 0),
                c if c == libc::BPF_RET | libc::BPF_K => return ins.k,
                other => panic!("opcode {other:#x} at {} is not interpreted", pc - 1),
            }
        }
    }

    /// All filters as the kernel combines them: the last installed runs first, and the action
    /// of highest precedence wins (the lowest as a signed number: KILL_PROCESS is negative);
    /// on a tie the first result stays.
    fn verdict_for(filters: &[CompiledFilter], nr: i32, arch: u32, args: [u64; 6]) -> u32 {
        let data = seccomp_data(nr, arch, args);
        let mut verdict = SECCOMP_RET_ALLOW;
        for f in filters.iter().rev() {
            let ret = run(&f.program, &data);
            if ((ret & SECCOMP_RET_ACTION_FULL) as i32) < ((verdict & SECCOMP_RET_ACTION_FULL) as i32) {
                verdict = ret;
            }
        }
        verdict
    }

    fn native(filters: &[CompiledFilter], name: &str, args: [u64; 6]) -> u32 {
        verdict_for(filters, nr(name), AUDIT_ARCH_X86_64, args)
    }

    fn returns(filters: &[CompiledFilter]) -> impl Iterator<Item = u32> + '_ {
        filters.iter().flat_map(|f| &f.program).filter(|i| u32::from(i.code) & 0x07 == libc::BPF_RET).map(|i| i.k)
    }

    #[test]
    fn the_default_policy_has_exactly_one_notify_filter() {
        let filters = default_filters();
        assert_eq!(filters.iter().filter(|f| f.notify).count(), 1);
        let notify = filters.iter().find(|f| f.notify).unwrap();
        assert!(notify.program.iter().any(|i| i.code == RET_K && i.k == SECCOMP_RET_USER_NOTIF));
    }

    #[test]
    fn a_policy_without_block_rules_still_gets_the_abi_guard_as_notify_filter() {
        let policy = Policy::parse(r#"{"rules":[{"syscalls":["clone3"],"action":{"errno":38}}]}"#, "p").unwrap();
        let filters = policy.compile().unwrap();
        assert_eq!(filters.iter().filter(|f| f.notify).count(), 1);
        assert_eq!(verdict_for(&filters, 11, AUDIT_ARCH_I386, [0; 6]), SECCOMP_RET_USER_NOTIF);
        assert_eq!(native(&filters, "ptrace", [0; 6]), SECCOMP_RET_ALLOW);
        let empty = Policy::parse(r#"{"rules":[]}"#, "p").unwrap().compile().unwrap();
        assert_eq!(empty.iter().filter(|f| f.notify).count(), 1);
        assert_eq!(verdict_for(&empty, 0x4000_0000, AUDIT_ARCH_X86_64, [0; 6]), SECCOMP_RET_USER_NOTIF);
    }

    #[test]
    fn compiled_programs_never_kill_or_trap() {
        for filters in [default_filters(), Policy::parse(r#"{"rules":[]}"#, "p").unwrap().compile().unwrap()] {
            for k in returns(&filters) {
                let action = k & SECCOMP_RET_ACTION_FULL;
                assert!(
                    action == SECCOMP_RET_ALLOW || action == SECCOMP_RET_ERRNO || action == SECCOMP_RET_USER_NOTIF,
                    "return {k:#x}"
                );
                assert_ne!(action, SECCOMP_RET_KILL_PROCESS);
                assert_ne!(action, SECCOMP_RET_TRAP);
            }
        }
    }

    #[test]
    fn only_the_notify_filter_notifies() {
        let filters = default_filters();
        for f in filters.iter().filter(|f| !f.notify) {
            assert!(f.program.iter().all(|i| i.k != SECCOMP_RET_USER_NOTIF || i.code != RET_K));
        }
    }

    #[test]
    fn sockets_only_of_unix_and_inet_families() {
        let f = default_filters();
        for family in [AF_VSOCK, AF_PACKET, AF_NETLINK, AF_ALG, AF_BLUETOOTH, AF_KEY, 0, 44] {
            assert_eq!(native(&f, "socket", [family, 1, 0, 0, 0, 0]), EAFNOSUPPORT, "family {family}");
        }
        for family in [AF_UNIX, AF_INET, AF_INET6] {
            assert_eq!(native(&f, "socket", [family, 1, 0, 0, 0, 0]), SECCOMP_RET_ALLOW, "family {family}");
        }
        // The kernel reads the family as an int: garbage in the upper half changes nothing.
        assert_eq!(native(&f, "socket", [0xdead_0000_0000_0000 | AF_INET, 1, 0, 0, 0, 0]), SECCOMP_RET_ALLOW);
        assert_eq!(native(&f, "socket", [0xdead_0000_0000_0000 | AF_VSOCK, 1, 0, 0, 0, 0]), EAFNOSUPPORT);
        assert_eq!(native(&f, "socketpair", [AF_UNIX, 1, 0, PATH, 0, 0]), SECCOMP_RET_ALLOW);
        assert_eq!(native(&f, "socketpair", [AF_INET, 1, 0, PATH, 0, 0]), EAFNOSUPPORT);
        assert_eq!(native(&f, "socketpair", [AF_NETLINK, 1, 0, PATH, 0, 0]), EAFNOSUPPORT);
    }

    #[test]
    fn setuid_and_setgid_bits_cannot_be_set() {
        let f = default_filters();
        assert_eq!(native(&f, "chmod", [PATH, 0o4755, 0, 0, 0, 0]), EPERM);
        assert_eq!(native(&f, "chmod", [PATH, 0o2755, 0, 0, 0, 0]), EPERM);
        assert_eq!(native(&f, "chmod", [PATH, 0o6755, 0, 0, 0, 0]), EPERM);
        assert_eq!(native(&f, "chmod", [PATH, 0o755, 0, 0, 0, 0]), SECCOMP_RET_ALLOW);
        assert_eq!(native(&f, "chmod", [PATH, 0o1777, 0, 0, 0, 0]), SECCOMP_RET_ALLOW);
        assert_eq!(native(&f, "fchmod", [3, 0o4711, 0, 0, 0, 0]), EPERM);
        assert_eq!(native(&f, "fchmodat", [AT_FDCWD, PATH, 0o2755, 0, 0, 0]), EPERM);
        assert_eq!(native(&f, "fchmodat", [AT_FDCWD, PATH, 0o644, 0, 0, 0]), SECCOMP_RET_ALLOW);
        assert_eq!(native(&f, "fchmodat2", [AT_FDCWD, PATH, 0o4755, 0x100, 0, 0]), EPERM);
        assert_eq!(native(&f, "creat", [PATH, 0o4755, 0, 0, 0, 0]), EPERM);
        assert_eq!(native(&f, "creat", [PATH, 0o644, 0, 0, 0, 0]), SECCOMP_RET_ALLOW);
        assert_eq!(native(&f, "mknod", [PATH, 0o100000 | 0o4755, 0, 0, 0, 0]), EPERM);
        assert_eq!(native(&f, "mknodat", [AT_FDCWD, PATH, 0o100000 | 0o2755, 0, 0, 0]), EPERM);
        assert_eq!(native(&f, "mknodat", [AT_FDCWD, PATH, 0o010644, 0, 0, 0]), SECCOMP_RET_ALLOW);
        // Creating opens with a set-id mode fail; the mode of a non-creating open is unused
        // and may be anything.
        assert_eq!(native(&f, "open", [PATH, O_CREAT | 1, 0o4755, 0, 0, 0]), EPERM);
        assert_eq!(native(&f, "open", [PATH, O_TMPFILE | 2, 0o2700, 0, 0, 0]), EPERM);
        assert_eq!(native(&f, "open", [PATH, O_CREAT | 1, 0o644, 0, 0, 0]), SECCOMP_RET_ALLOW);
        assert_eq!(native(&f, "open", [PATH, 0, 0o6777, 0, 0, 0]), SECCOMP_RET_ALLOW);
        assert_eq!(native(&f, "openat", [AT_FDCWD, PATH, O_CREAT | 0o1000, 0o2755, 0, 0]), EPERM);
        assert_eq!(native(&f, "openat", [AT_FDCWD, PATH, O_TMPFILE | 2, 0o4700, 0, 0]), EPERM);
        assert_eq!(native(&f, "openat", [AT_FDCWD, PATH, O_CREAT | 1, 0o666, 0, 0]), SECCOMP_RET_ALLOW);
        assert_eq!(native(&f, "openat", [AT_FDCWD, PATH, 0, u64::MAX, 0, 0]), SECCOMP_RET_ALLOW);
        // openat2's mode is out of seccomp's sight: refused so that callers use openat.
        assert_eq!(native(&f, "openat2", [AT_FDCWD, PATH, PATH, 24, 0, 0]), ENOSYS);
        // mkdir drops set-id bits itself (the directory's setgid comes from its parent).
        assert_eq!(native(&f, "mkdir", [PATH, 0o2755, 0, 0, 0, 0]), SECCOMP_RET_ALLOW);
    }

    #[test]
    fn numbers_beyond_the_table_fail_with_enosys() {
        let f = default_filters();
        assert_eq!(MAX_KNOWN, 469);
        for nr in [470, 471, 1000, 0x3fff_ffff, i32::MIN, i32::MIN | 0x1234] {
            assert_eq!(verdict_for(&f, nr, AUDIT_ARCH_X86_64, [0; 6]), ENOSYS, "nr {nr:#x}");
        }
        assert_eq!(verdict_for(&f, 469, AUDIT_ARCH_X86_64, [0; 6]), SECCOMP_RET_ALLOW);
        assert_eq!(native(&f, "read", [0, PATH, 4096, 0, 0, 0]), SECCOMP_RET_ALLOW);
        assert_eq!(native(&f, "clone3", [PATH, 88, 0, 0, 0, 0]), ENOSYS);
    }

    #[test]
    fn block_rules_notify_the_parent() {
        let f = default_filters();
        assert_eq!(native(&f, "ptrace", [16, 1, 0, 0, 0, 0]), SECCOMP_RET_USER_NOTIF);
        assert_eq!(native(&f, "open_tree_attr", [0; 6]), SECCOMP_RET_USER_NOTIF);
        assert_eq!(native(&f, "statmount", [0; 6]), SECCOMP_RET_USER_NOTIF);
        assert_eq!(native(&f, "lsm_set_self_attr", [0; 6]), SECCOMP_RET_USER_NOTIF);
        assert_eq!(native(&f, "lsm_get_self_attr", [0; 6]), SECCOMP_RET_ALLOW);
        assert_eq!(native(&f, "clone", [CLONE_NEWUSER | 17, 0, 0, 0, 0, 0]), SECCOMP_RET_USER_NOTIF);
        assert_eq!(native(&f, "clone", [0x003d_0f00 | 17, 0, 0, 0, 0, 0]), SECCOMP_RET_ALLOW);
        assert_eq!(native(&f, "clone", [17, 0, 0, 0, 0, 0]), SECCOMP_RET_ALLOW);
        assert_eq!(native(&f, "ioctl", [0, TIOCSTI, PATH, 0, 0, 0]), SECCOMP_RET_USER_NOTIF);
        assert_eq!(native(&f, "ioctl", [0, 0xffff_ffff_0000_0000 | TIOCSTI, PATH, 0, 0, 0]), SECCOMP_RET_USER_NOTIF);
        assert_eq!(native(&f, "ioctl", [0, 0x5401, PATH, 0, 0, 0]), SECCOMP_RET_ALLOW);
        assert_eq!(native(&f, "personality", [0xffff_ffff, 0, 0, 0, 0, 0]), SECCOMP_RET_ALLOW);
        assert_eq!(native(&f, "personality", [0x0040_0000, 0, 0, 0, 0, 0]), SECCOMP_RET_USER_NOTIF);
    }

    #[test]
    fn other_abis_always_notify_even_where_a_native_errno_rule_has_the_same_number() {
        let f = default_filters();
        // Arguments that match errno rules natively (socket AF_VSOCK, chmod setuid, openat2).
        let args = [AF_VSOCK, 0o4755, 0o4755 | O_CREAT, 0o4755, 0, 0];
        for nr in (0..=500).chain([1000, 0x3fff_ffff]) {
            assert_eq!(verdict_for(&f, nr, AUDIT_ARCH_I386, args), SECCOMP_RET_USER_NOTIF, "i386 {nr}");
            assert_eq!(verdict_for(&f, nr, AUDIT_ARCH_I386, [0; 6]), SECCOMP_RET_USER_NOTIF, "i386 {nr}");
            let x32 = nr | X32_SYSCALL_BIT as i32;
            assert_eq!(verdict_for(&f, x32, AUDIT_ARCH_X86_64, args), SECCOMP_RET_USER_NOTIF, "x32 {nr}");
        }
        assert_eq!(verdict_for(&f, 11, 0xc000_00b7, [0; 6]), SECCOMP_RET_USER_NOTIF);
        assert_eq!(verdict_for(&f, -1, AUDIT_ARCH_X86_64, [0; 6]), SECCOMP_RET_USER_NOTIF);
    }

    #[test]
    fn syscalls_no_rule_names_are_allowed_whatever_their_arguments() {
        let f = default_filters();
        let policy = Policy::load("default").unwrap().unwrap();
        let named: Vec<&str> = policy.rules.iter().flat_map(|r| r.syscalls.iter().map(String::as_str)).collect();
        let patterns = [[0; 6], [u64::MAX; 6], [0o6777; 6], [AF_VSOCK | CLONE_NEWUSER | O_CREAT; 6]];
        for (name, number) in syscalls_x86_64::SYSCALLS.iter().filter(|(n, _)| !named.contains(n)) {
            for args in patterns {
                assert_eq!(verdict_for(&f, *number as i32, AUDIT_ARCH_X86_64, args), SECCOMP_RET_ALLOW, "{name}");
            }
        }
        // Without rules, every native number in the table passes.
        let empty = Policy::parse(r#"{"rules":[]}"#, "p").unwrap().compile().unwrap();
        for nr in 0..=MAX_KNOWN as i32 {
            assert_eq!(verdict_for(&empty, nr, AUDIT_ARCH_X86_64, [u64::MAX; 6]), SECCOMP_RET_ALLOW, "{nr}");
        }
    }

    #[test]
    fn notifications_are_described_with_their_abi() {
        assert_eq!(describe_notification(101, AUDIT_ARCH_X86_64), "ptrace");
        assert_eq!(describe_notification(469, AUDIT_ARCH_X86_64), "file_setattr");
        assert_eq!(describe_notification(11, AUDIT_ARCH_I386), "i386 syscall #11 (non-native ABI)");
        assert_eq!(describe_notification(0x4000_0000 | 59, AUDIT_ARCH_X86_64), "x32 syscall #59 (non-native ABI)");
        assert_eq!(describe_notification(400, AUDIT_ARCH_X86_64), "syscall #400");
        assert!(describe_notification(1, 0xc000_00b7).contains("non-native"));
    }

    #[test]
    fn the_table_reaches_linux_6_18_without_duplicates() {
        let table = syscalls_x86_64::SYSCALLS;
        for (name, number) in table {
            assert_eq!(table.iter().filter(|(n, _)| n == name).count(), 1, "{name}");
            assert_eq!(table.iter().filter(|(_, nr)| nr == number).count(), 1, "{number}");
        }
        assert_eq!(syscall_number("cachestat"), Some(451));
        assert_eq!(syscall_number("mseal"), Some(462));
        assert_eq!(syscall_number("file_setattr"), Some(469));
        assert_eq!(MAX_KNOWN, table.iter().map(|(_, nr)| *nr).max().unwrap());
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
