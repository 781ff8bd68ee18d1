//! The banner's own texts in Kazakh, Russian and English. The policy brings the rest (purposes, cookie
//! categories, cookies, its title) in the same languages.

/// The banner's texts in one language.
#[derive(Debug)]
pub struct Texts {
    /// The language's own name, on the language switcher.
    pub name: &'static str,
    /// The dialog's heading.
    pub title: &'static str,
    /// The dialog's description.
    pub description: &'static str,
    /// "Accept all".
    pub accept_all: &'static str,
    /// "Reject all".
    pub reject_all: &'static str,
    /// "Choose" (opens the second layer).
    pub choose: &'static str,
    /// "Save my choice" (second layer).
    pub save: &'static str,
    /// Closes a dialog opened through the way back in, changing nothing.
    pub close: &'static str,
    /// Shown beside purposes that need no consent.
    pub always_on: &'static str,
    /// The second layer's label.
    pub purposes: &'static str,
    /// The floating button that reopens the dialog ("Cookie settings").
    pub settings: &'static str,
    /// Before the date of the policy version, when asking again after an update.
    pub updated: &'static str,
    /// The cookie table's summary, and its column headings.
    pub cookies: &'static str,
    /// Column: the cookie's name.
    pub cookie_name: &'static str,
    /// Column: who sets it.
    pub provider: &'static str,
    /// Column: how long it lives.
    pub lifetime: &'static str,
    /// Column: what it is for.
    pub cookie_purpose: &'static str,
    /// Before the visitor's consent ID (the receipt id).
    pub consent_id: &'static str,
    /// Before the date of the current choice.
    pub consent_date: &'static str,
    /// The link to the signed receipt.
    pub receipt: &'static str,
    /// The language switcher's label.
    pub language: &'static str,
    /// An embed's placeholder, before the purpose's title.
    pub blocked: &'static str,
    /// An embed's placeholder: load this one, record nothing.
    pub load_once: &'static str,
    /// An embed's placeholder: grant its purpose.
    pub always_allow: &'static str,
    /// Beside marketing purposes refused because the browser sends Global Privacy Control.
    pub gpc: &'static str,
}

const KK: Texts = Texts {
    name: "Қазақша",
    title: "Cookie файлдары және жеке деректер",
    description: "Біз cookie файлдарын қолданамыз және жеке деректерді құпиялылық саясатымызда \
                  көрсетілген мақсаттар үшін өңдейміз. Қажетті cookie файлдары әрқашан қосулы. \
                  Қалғанын сіз шешесіз: барлығын қабылдаңыз, барлығынан бас тартыңыз немесе әр \
                  мақсатты өзіңіз таңдаңыз. Сіз таңдау жасамайынша міндетті емес ештеңе іске \
                  қосылмайды.",
    accept_all: "Барлығын қабылдау",
    reject_all: "Барлығынан бас тарту",
    choose: "Таңдау",
    save: "Таңдауды сақтау",
    close: "Жабу",
    always_on: "Әрқашан қосулы",
    purposes: "Мақсаттар",
    settings: "Cookie баптаулары",
    updated: "Саясат жаңартылды:",
    cookies: "Cookie файлдары",
    cookie_name: "Атауы",
    provider: "Провайдер",
    lifetime: "Мерзімі",
    cookie_purpose: "Мақсаты",
    consent_id: "Келісім ID:",
    consent_date: "Күні:",
    receipt: "Түбіртекті жүктеп алу",
    language: "Тіл",
    blocked: "Бұл мазмұнды көрсету үшін келісіміңіз қажет:",
    load_once: "Бір рет жүктеу",
    always_allow: "Әрқашан рұқсат ету",
    gpc: "Браузеріңіз Global Privacy Control сигналын жібереді: бас тартылды",
};

const RU: Texts = Texts {
    name: "Русский",
    title: "Файлы cookie и персональные данные",
    description: "Мы используем файлы cookie и обрабатываем персональные данные в целях, указанных в \
                  нашей политике конфиденциальности. Необходимые файлы cookie включены всегда. \
                  Остальное решаете вы: принять всё, отклонить всё или выбрать для каждой цели. \
                  Пока вы не сделали выбор, ничего необязательного не запускается.",
    accept_all: "Принять все",
    reject_all: "Отклонить все",
    choose: "Выбрать",
    save: "Сохранить выбор",
    close: "Закрыть",
    always_on: "Всегда включено",
    purposes: "Цели",
    settings: "Настройки cookie",
    updated: "Политика обновлена:",
    cookies: "Файлы cookie",
    cookie_name: "Название",
    provider: "Провайдер",
    lifetime: "Срок",
    cookie_purpose: "Назначение",
    consent_id: "ID согласия:",
    consent_date: "Дата:",
    receipt: "Скачать квитанцию",
    language: "Язык",
    blocked: "Чтобы показать это содержимое, нужно ваше согласие:",
    load_once: "Загрузить один раз",
    always_allow: "Всегда разрешать",
    gpc: "Ваш браузер передаёт сигнал Global Privacy Control: отклонено",
};

const EN: Texts = Texts {
    name: "English",
    title: "Cookies and personal data",
    description: "We use cookies and process personal data for the purposes set out in our privacy \
                  policy. Necessary cookies are always on. The rest is up to you: accept all, reject \
                  all, or choose for each purpose. Nothing optional runs until you choose.",
    accept_all: "Accept all",
    reject_all: "Reject all",
    choose: "Choose",
    save: "Save my choice",
    close: "Close",
    always_on: "Always on",
    purposes: "Purposes",
    settings: "Cookie settings",
    updated: "Policy updated on",
    cookies: "Cookies",
    cookie_name: "Name",
    provider: "Provider",
    lifetime: "Lifetime",
    cookie_purpose: "Purpose",
    consent_id: "Consent ID:",
    consent_date: "Date:",
    receipt: "Download the receipt",
    language: "Language",
    blocked: "To show this content we need your consent to:",
    load_once: "Load once",
    always_allow: "Always allow",
    gpc: "Refused: your browser sends Global Privacy Control",
};

/// The languages the banner has its own texts in.
pub const LANGUAGES: [&str; 3] = ["kk", "ru", "en"];

/// The banner's texts in `lang` (English for a language it does not have).
pub fn texts(lang: &str) -> &'static Texts {
    match lang {
        "kk" => &KK,
        "ru" => &RU,
        _ => &EN,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_arch = "wasm32")]
    wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn every_text_exists_in_every_language_and_differs_where_it_should() {
        for lang in LANGUAGES {
            let t = texts(lang);
            for s in [
                t.name,
                t.title,
                t.description,
                t.accept_all,
                t.reject_all,
                t.choose,
                t.save,
                t.close,
                t.always_on,
                t.purposes,
                t.settings,
                t.updated,
                t.cookies,
                t.cookie_name,
                t.provider,
                t.lifetime,
                t.cookie_purpose,
                t.consent_id,
                t.consent_date,
                t.receipt,
                t.language,
                t.blocked,
                t.load_once,
                t.always_allow,
                t.gpc,
            ] {
                assert!(!s.trim().is_empty(), "{lang}");
            }
        }
        assert_ne!(texts("kk").accept_all, texts("ru").accept_all);
        assert_ne!(texts("ru").accept_all, texts("en").accept_all);
        assert_eq!(texts("de").accept_all, "Accept all");
    }
}
