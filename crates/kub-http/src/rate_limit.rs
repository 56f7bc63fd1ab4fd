//! The syntax of every rate-limit setting (users-api's login and signup limits, tasks-api's
//! `TASK_LIMIT_PER_USER`): `<count>/<s|min|h>`, a burst of `count` then one every
//! `period/count`, or `off`.

use std::{num::NonZeroU32, str::FromStr, time::Duration};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateLimit {
    Off,
    Every { count: NonZeroU32, period: Duration },
}

impl FromStr for RateLimit {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, String> {
        let value = value.trim();
        if value.eq_ignore_ascii_case("off") {
            return Ok(Self::Off);
        }
        let wrong =
            || format!("expected `<count>/<s|min|h>` such as `10/min`, or `off`; got {value:?}");
        let (count, unit) = value.split_once('/').ok_or_else(wrong)?;
        let count = count.trim().parse::<NonZeroU32>().map_err(|_| wrong())?;
        let period = match unit.trim() {
            "s" => Duration::from_secs(1),
            "min" => Duration::from_secs(60),
            "h" => Duration::from_secs(3600),
            _ => return Err(wrong()),
        };
        Ok(Self::Every { count, period })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_parse_or_explain() {
        let every = |count, secs| RateLimit::Every {
            count: NonZeroU32::new(count).unwrap(),
            period: Duration::from_secs(secs),
        };
        assert_eq!("30/min".parse(), Ok(every(30, 60)));
        assert_eq!(" 5/s ".parse(), Ok(every(5, 1)));
        assert_eq!("100/h".parse(), Ok(every(100, 3600)));
        assert_eq!("OFF".parse(), Ok(RateLimit::Off));
        for bad in ["", "30", "0/min", "-1/min", "ten/min", "30/day", "30/"] {
            let error = bad.parse::<RateLimit>().unwrap_err();
            assert!(error.contains("10/min"), "{bad}: {error}");
        }
    }
}
