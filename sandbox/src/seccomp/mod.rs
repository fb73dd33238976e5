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
//! The whole policy compiles to ONE program (the notify filter), generated here: the ABI
//! guard, ENOSYS above the table, then a binary search on the syscall number down to each
//! named syscall's rules (errno rules first, then `block`, as the kernel's precedence would
//! order them across filters), everything else ALLOW. One short program matters for speed:
//! at attach the kernel emulates every filter for every syscall number to build its
//! allow-cache, and seccompiler's one-action-per-filter, linear-chain programs (five filters,
//! ~570 instructions for the default policy) cost about 1 ms per run there.

// (Only the library: `build.rs` includes this module too, built for the host.)
#[cfg(all(not(target_arch = "x86_64"), built_filters))]
compile_error!(
    "the sandbox's seccomp policies only have an x86_64 syscall table (sandbox/src/seccomp/syscalls_x86_64.rs) \
     and an x86_64 ABI guard; add a syscall table, audit arch and ABI checks for this architecture to \
     sandbox/src/seccomp before building for it"
);

mod syscalls_x86_64;

use libc::sock_filter;
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
#[derive(Clone)]
pub(crate) struct CompiledFilter {
    pub program: Vec<sock_filter>,
    pub notify: bool,
}

#[cfg(test)]
const SECCOMP_RET_TRAP: u32 = 0x0003_0000;
const SECCOMP_RET_ERRNO: u32 = 0x0005_0000;
const SECCOMP_RET_USER_NOTIF: u32 = 0x7fc0_0000;
#[cfg(test)]
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

impl Policy {
    /// `default`, `none` (no filter at all), or a path to a JSON policy file.
    pub fn load(name: &str) -> Result<Option<Policy>, String> {
        match name {
            "none" => Ok(None),
            "default" => {
                // Parsed once per process: the text is compiled in and cannot change, and
                // parsing it took ~80 µs of every run.
                static DEFAULT: std::sync::OnceLock<Result<Policy, String>> = std::sync::OnceLock::new();
                DEFAULT.get_or_init(|| Policy::parse(DEFAULT_POLICY, "the built-in default policy")).clone().map(Some)
            }
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

    /// The BPF program for this policy: one filter, with the listener (see the module doc).
    pub(crate) fn compile(&self) -> Result<Vec<CompiledFilter>, String> {
        // Per syscall, its rules in evaluation order: errno rules (in policy order), then
        // block rules. An ERRNO beat a USER_NOTIF across filters; it does here by order.
        let mut per_nr: BTreeMap<u32, Vec<&Rule>> = BTreeMap::new();
        for pass in [false, true] {
            for rule in self.rules.iter().filter(|r| (r.action == Action::Block) == pass) {
                for name in &rule.syscalls {
                    let nr = syscall_number(name).ok_or_else(|| format!("unknown syscall {name:?}"))?;
                    per_nr.entry(nr as u32).or_default().push(rule);
                }
            }
        }
        let mut asm = Asm::default();
        let notify = Target::Ret(SECCOMP_RET_USER_NOTIF);
        let allow = Target::Ret(SECCOMP_RET_ALLOW);
        // ABI guard: another audit arch (i386 via int 0x80) or the x32 numbering.
        asm.ld(DATA_ARCH);
        asm.jump(JEQ_K, AUDIT_ARCH_X86_64, Target::Next, notify);
        asm.ld(DATA_NR);
        asm.jump(JSET_K, X32_SYSCALL_BIT, notify, Target::Next);
        // Numbers beyond the table: nobody has decided about them yet.
        asm.jump(JGT_K, MAX_KNOWN as u32, Target::Ret(SECCOMP_RET_ERRNO | libc::ENOSYS as u32), Target::Next);
        let leaves: Vec<(u32, Vec<&Rule>)> = per_nr.into_iter().collect();
        asm.search(&leaves, allow);
        let program = checked(asm.finish()?, SECCOMP_RET_USER_NOTIF)?;
        Ok(vec![CompiledFilter { program, notify: true }])
    }
}

/// The built-in default policy's program, compiled when the library was built (by
/// `build.rs`, with `Policy::compile`; the build script itself, which includes this module,
/// has no such program yet and so no `built_filters`).
#[cfg(built_filters)]
pub(crate) fn default_filters() -> Vec<CompiledFilter> {
    mod built {
        include!(concat!(env!("OUT_DIR"), "/default_filters.rs"));
    }
    built::DEFAULT_FILTERS
        .iter()
        .map(|(notify, program)| CompiledFilter { program: program.to_vec(), notify: *notify })
        .collect()
}

const LD_ABS: u16 = (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16;
const AND_K: u16 = (libc::BPF_ALU | libc::BPF_AND | libc::BPF_K) as u16;
const JA: u16 = (libc::BPF_JMP | libc::BPF_JA) as u16;
const JEQ_K: u16 = (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16;
const JGE_K: u16 = (libc::BPF_JMP | libc::BPF_JGE | libc::BPF_K) as u16;
const JGT_K: u16 = (libc::BPF_JMP | libc::BPF_JGT | libc::BPF_K) as u16;
const JSET_K: u16 = (libc::BPF_JMP | libc::BPF_JSET | libc::BPF_K) as u16;
const RET_K: u16 = (libc::BPF_RET | libc::BPF_K) as u16;

/// A place in the program being assembled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Label {
    /// The rules of one syscall.
    Syscall(u32),
    /// The i-th rule of a syscall (past the last one: ALLOW).
    Rule(u32, u32),
    /// A node of the binary search.
    Node(u32),
}

/// Where a conditional jump goes.
#[derive(Clone, Copy, Debug)]
enum Target {
    /// The instruction after the jump.
    Next,
    /// A label placed later.
    Label(Label),
    /// A return of this action (emitted once per action, at the end).
    Ret(u32),
}

enum Item {
    Ins(sock_filter),
    /// A conditional jump to resolve; expands to `jcond; ja T; ja F` when a target is far.
    Jump {
        code: u16,
        k: u32,
        t: Target,
        f: Target,
    },
    Place(Label),
}

/// A tiny assembler: labels resolve forward only (BPF cannot jump back), conditional jumps
/// that reach further than 255 instructions go through unconditional ones.
#[derive(Default)]
struct Asm {
    items: Vec<Item>,
    nodes: u32,
}

impl Asm {
    fn ld(&mut self, offset: u32) {
        self.items.push(Item::Ins(sock_filter { code: LD_ABS, jt: 0, jf: 0, k: offset }));
    }

    fn and(&mut self, mask: u32) {
        self.items.push(Item::Ins(sock_filter { code: AND_K, jt: 0, jf: 0, k: mask }));
    }

    fn ret(&mut self, action: u32) {
        self.items.push(Item::Ins(sock_filter { code: RET_K, jt: 0, jf: 0, k: action }));
    }

    fn jump(&mut self, code: u16, k: u32, t: Target, f: Target) {
        self.items.push(Item::Jump { code, k, t, f });
    }

    fn place(&mut self, label: Label) {
        self.items.push(Item::Place(label));
    }

    /// Binary search on the syscall number (in the accumulator) over `leaves`, sorted by
    /// number: each found number runs its rules (laid out right after its test, so the test
    /// jumps only over them), anything else returns `miss`.
    fn search(&mut self, leaves: &[(u32, Vec<&Rule>)], miss: Target) {
        if leaves.len() <= 3 {
            for (nr, rules) in leaves {
                let skip = Label::Syscall(*nr);
                self.jump(JEQ_K, *nr, Target::Next, Target::Label(skip));
                self.leaf(*nr, rules);
                self.place(skip);
                // The accumulator still holds the number: the leaf returns on every path.
            }
            match miss {
                Target::Ret(a) => self.ret(a),
                other => self.jump(JEQ_K, 0, other, other),
            }
            return;
        }
        let mid = leaves.len() / 2;
        let upper = Label::Node(self.nodes);
        self.nodes += 1;
        self.jump(JGE_K, leaves[mid].0, Target::Label(upper), Target::Next);
        self.search(&leaves[..mid], miss);
        self.place(upper);
        self.search(&leaves[mid..], miss);
    }

    /// One syscall's rules in order; the first whose conditions all hold gives its action,
    /// none: ALLOW. Every path returns.
    fn leaf(&mut self, nr: u32, rules: &[&Rule]) {
        for (i, rule) in rules.iter().enumerate() {
            let next = Label::Rule(nr, i as u32 + 1);
            let action = match rule.action {
                Action::Block => SECCOMP_RET_USER_NOTIF,
                Action::Errno(n) => SECCOMP_RET_ERRNO | (n & 0xffff),
            };
            for cond in &rule.args {
                self.condition(cond, Target::Label(next));
            }
            self.ret(action);
            self.place(next);
        }
        self.ret(SECCOMP_RET_ALLOW);
    }

    /// Code that falls through when `c` holds and jumps to `fail` when it does not.
    fn condition(&mut self, c: &ArgCondition, fail: Target) {
        let lo = 16 + 8 * u32::from(c.index);
        let hi = lo + 4;
        let (v_lo, v_hi) = (c.value as u32, (c.value >> 32) as u32);
        let (m_lo, m_hi) = (c.mask as u32, (c.mask >> 32) as u32);
        let wide = c.bits == 64;
        match c.op {
            Op::Eq => {
                if wide {
                    self.ld(hi);
                    self.jump(JEQ_K, v_hi, Target::Next, fail);
                }
                self.ld(lo);
                self.jump(JEQ_K, v_lo, Target::Next, fail);
            }
            Op::Ne => {
                // Holds when either half differs.
                let holds = Label::Node(self.nodes);
                self.nodes += 1;
                if wide {
                    self.ld(hi);
                    self.jump(JEQ_K, v_hi, Target::Next, Target::Label(holds));
                }
                self.ld(lo);
                self.jump(JEQ_K, v_lo, fail, Target::Next);
                self.place(holds);
            }
            Op::MaskedEq => {
                if wide {
                    self.ld(hi);
                    self.and(m_hi);
                    self.jump(JEQ_K, v_hi, Target::Next, fail);
                }
                self.ld(lo);
                self.and(m_lo);
                self.jump(JEQ_K, v_lo, Target::Next, fail);
            }
        }
    }

    /// Lays the program out, jumps resolved. A jump to a return gets the return right after
    /// it, so it never reaches far.
    fn finish(mut self) -> Result<Vec<sock_filter>, String> {
        let mut items = Vec::with_capacity(self.items.len());
        for item in std::mem::take(&mut self.items) {
            let Item::Jump { code, k, t, f } = item else {
                items.push(item);
                continue;
            };
            let ret = |a: u32| Item::Ins(sock_filter { code: RET_K, jt: 0, jf: 0, k: a });
            let mut fresh = || {
                self.nodes += 1;
                Label::Node(self.nodes - 1)
            };
            match (t, f) {
                (Target::Ret(a), Target::Ret(b)) => {
                    let l = fresh();
                    items.extend([
                        Item::Jump { code, k, t: Target::Next, f: Target::Label(l) },
                        ret(a),
                        Item::Place(l),
                        ret(b),
                    ]);
                }
                (Target::Ret(a), Target::Next) => {
                    let l = fresh();
                    items.extend([
                        Item::Jump { code, k, t: Target::Next, f: Target::Label(l) },
                        ret(a),
                        Item::Place(l),
                    ]);
                }
                (Target::Next, Target::Ret(a)) => {
                    let l = fresh();
                    items.extend([
                        Item::Jump { code, k, t: Target::Label(l), f: Target::Next },
                        ret(a),
                        Item::Place(l),
                    ]);
                }
                (Target::Ret(a), other) => items.extend([Item::Jump { code, k, t: Target::Next, f: other }, ret(a)]),
                (other, Target::Ret(a)) => items.extend([Item::Jump { code, k, t: other, f: Target::Next }, ret(a)]),
                (t, f) => items.push(Item::Jump { code, k, t, f }),
            }
        }
        self.items = items;
        let to_label = |t: Target| match t {
            Target::Label(l) => Some(l),
            Target::Next | Target::Ret(_) => None,
        };
        // Decide each jump's size (1, or 3 when a target may be far), then lay out. A jump's
        // distance only depends on sizes, which only grow: iterate until stable.
        let n = self.items.len();
        let mut long = vec![false; n];
        loop {
            let mut pos = vec![0usize; n + 1];
            let mut labels: BTreeMap<Label, usize> = BTreeMap::new();
            for (i, item) in self.items.iter().enumerate() {
                pos[i + 1] = pos[i]
                    + match item {
                        Item::Ins(_) => 1,
                        Item::Jump { .. } => {
                            if long[i] {
                                3
                            } else {
                                1
                            }
                        }
                        Item::Place(l) => {
                            labels.insert(*l, pos[i]);
                            0
                        }
                    };
            }
            let mut changed = false;
            let mut out = Vec::with_capacity(pos[n]);
            for (i, item) in self.items.iter().enumerate() {
                match item {
                    Item::Ins(ins) => out.push(*ins),
                    Item::Place(_) => {}
                    Item::Jump { code, k, t, f } => {
                        let after = pos[i] + if long[i] { 3 } else { 1 };
                        let dest = |tg: Target| -> Result<usize, String> {
                            match to_label(tg) {
                                None => Ok(pos[i + 1]),
                                Some(l) => {
                                    labels.get(&l).copied().ok_or_else(|| format!("seccomp: label {l:?} never placed"))
                                }
                            }
                        };
                        let (dt, df) = (dest(*t)?, dest(*f)?);
                        if dt < pos[i] + 1 || df < pos[i] + 1 {
                            return Err("seccomp: a jump goes backwards".into());
                        }
                        if long[i] {
                            out.push(sock_filter { code: *code, jt: 0, jf: 1, k: *k });
                            out.push(sock_filter { code: JA, jt: 0, jf: 0, k: (dt - (pos[i] + 2)) as u32 });
                            out.push(sock_filter { code: JA, jt: 0, jf: 0, k: (df - (pos[i] + 3)) as u32 });
                        } else if dt - after > 255 || df - after > 255 {
                            long[i] = true;
                            changed = true;
                        } else {
                            out.push(sock_filter {
                                code: *code,
                                jt: (dt - after) as u8,
                                jf: (df - after) as u8,
                                k: *k,
                            });
                        }
                    }
                }
            }
            if !changed {
                return Ok(out);
            }
        }
    }
}

/// Refuses a program the kernel would reject or that could end the run by itself: every
/// return must be ALLOW, ERRNO or USER_NOTIF, every jump must land inside.
fn checked(program: Vec<sock_filter>, notify: u32) -> Result<Vec<sock_filter>, String> {
    if program.len() > MAX_PROGRAM_LEN {
        return Err(format!(
            "seccomp: the filter has {} instructions, more than the kernel's {MAX_PROGRAM_LEN}",
            program.len()
        ));
    }
    for (pc, ins) in program.iter().enumerate() {
        let class = u32::from(ins.code) & 0x07;
        if class == libc::BPF_RET {
            let action = ins.k & SECCOMP_RET_ACTION_FULL;
            if ins.code != RET_K || (action != SECCOMP_RET_ALLOW && action != SECCOMP_RET_ERRNO && action != notify) {
                return Err(format!("seccomp: instruction {pc} returns {:#x}", ins.k));
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
        _ => Err("seccomp: the filter does not end with a return".to_string()),
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

    #[test]
    fn the_program_built_with_the_library_is_the_one_compiled_from_the_policy_now() {
        type Words = Vec<(bool, Vec<(u16, u8, u8, u32)>)>;
        let words = |filters: Vec<CompiledFilter>| -> Words {
            filters
                .into_iter()
                .map(|f| (f.notify, f.program.iter().map(|i| (i.code, i.jt, i.jf, i.k)).collect()))
                .collect()
        };
        let built = words(super::default_filters());
        assert!(
            built.iter().map(|(_, p)| p.len()).sum::<usize>() > 100,
            "the built program is too short to be the policy"
        );
        assert_eq!(built, words(default_filters()));
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
    fn far_jumps_and_wide_arguments_compile_right() {
        // Every syscall of the table blocked when its first argument is exactly 2^32 + 5:
        // hundreds of leaves, so the search's jumps reach further than 255 instructions.
        let names: Vec<String> = syscalls_x86_64::SYSCALLS.iter().map(|(n, _)| format!("{n:?}")).collect();
        let text = format!(
            r#"{{"rules":[{{"syscalls":[{}],"action":"block","args":[{{"index":0,"op":"eq","value":{}}}]}},
                {{"syscalls":["read"],"action":{{"errno":5}},"args":[{{"index":1,"op":"ne","value":7}}]}}]}}"#,
            names.join(","),
            (1u64 << 32) + 5
        );
        let filters = Policy::parse(&text, "p").unwrap().compile().unwrap();
        assert_eq!(filters.len(), 1);
        assert!(filters[0].program.iter().any(|i| i.code == JA), "long jumps were needed");
        for (name, _) in syscalls_x86_64::SYSCALLS.iter().filter(|(n, _)| *n != "read") {
            assert_eq!(native(&filters, name, [(1 << 32) + 5, 0, 0, 0, 0, 0]), SECCOMP_RET_USER_NOTIF, "{name}");
            assert_eq!(native(&filters, name, [5, 0, 0, 0, 0, 0]), SECCOMP_RET_ALLOW, "{name}: high half differs");
        }
        // read: the errno rule (second argument != 7) comes before the block rule.
        assert_eq!(native(&filters, "read", [(1 << 32) + 5, 8, 0, 0, 0, 0]), SECCOMP_RET_ERRNO | 5);
        assert_eq!(native(&filters, "read", [(1 << 32) + 5, 7, 0, 0, 0, 0]), SECCOMP_RET_USER_NOTIF);
        assert_eq!(native(&filters, "read", [0, (1 << 32) + 7, 0, 0, 0, 0]), SECCOMP_RET_ERRNO | 5, "64-bit ne");
        assert_eq!(native(&filters, "read", [0, 7, 0, 0, 0, 0]), SECCOMP_RET_ALLOW);
    }

    #[test]
    fn the_default_policy_is_one_short_program() {
        let filters = default_filters();
        assert_eq!(filters.len(), 1);
        assert!(filters[0].program.len() < 512, "{} instructions", filters[0].program.len());
    }

    #[test]
    fn names_and_numbers_round_trip() {
        assert_eq!(syscall_number("ptrace"), Some(101));
        assert_eq!(syscall_name(101), Some("ptrace"));
    }
}
