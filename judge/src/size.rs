//! Sizes as people write them in profiles, problem files and on the command line: `256M`,
//! `1G`, `65536K`, or bytes.

/// Bytes from `64M`, `1G`, `65536K`, `512` (bytes); K/M/G are binary (KiB, MiB, GiB).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    if num.is_empty() {
        return Err(format!("'{s}' is not a size (examples: 64M, 1G, 65536K)"));
    }
    let n: u64 = num.parse().map_err(|_| format!("'{s}' is too large"))?;
    let mult: u64 = match unit.to_ascii_uppercase().as_str() {
        "" | "B" => 1,
        "K" | "KB" | "KIB" => 1 << 10,
        "M" | "MB" | "MIB" => 1 << 20,
        "G" | "GB" | "GIB" => 1 << 30,
        _ => return Err(format!("unknown size unit '{unit}' in '{s}' (use K, M or G)")),
    };
    let v = n.checked_mul(mult).ok_or_else(|| format!("'{s}' is too large"))?;
    if v == 0 {
        return Err(format!("'{s}' must be more than zero"));
    }
    Ok(v)
}
