//! Which language a person at this process's terminal reads: Chinese when the POSIX locale
//! asks for it (`LC_ALL`, then `LC_MESSAGES`, then `LANG`, the first one set), English
//! otherwise. Tencent's plugin speaks Chinese to its users; ours does too when they ask.
//!
//! Only what a person reads goes through here (login prompts, their notices); logs and
//! errors stay English, so a report reads the same everywhere.

/// Whether the locale asks for Chinese.
pub fn chinese() -> bool {
    chinese_in(|name| std::env::var(name).ok())
}

/// `en`, or `zh` when the locale asks for Chinese.
pub fn pick<'a>(en: &'a str, zh: &'a str) -> &'a str {
    if chinese() { zh } else { en }
}

fn chinese_in(env: impl Fn(&str) -> Option<String>) -> bool {
    ["LC_ALL", "LC_MESSAGES", "LANG"]
        .iter()
        .find_map(|name| env(name).filter(|v| !v.is_empty()))
        .is_some_and(|locale| locale.to_ascii_lowercase().starts_with("zh"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_locale_variable_set_decides() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        assert!(chinese_in(env(&[("LANG", "zh_CN.UTF-8")])));
        assert!(chinese_in(env(&[
            ("LANG", "en_US.UTF-8"),
            ("LC_ALL", "zh_TW.UTF-8")
        ])));
        assert!(!chinese_in(env(&[
            ("LANG", "zh_CN.UTF-8"),
            ("LC_MESSAGES", "C")
        ])));
        assert!(chinese_in(env(&[("LANG", "zh_CN.UTF-8"), ("LC_ALL", "")])));
        assert!(!chinese_in(env(&[])));
    }
}
