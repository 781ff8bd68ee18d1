//! The dialog: a native `<dialog>` shown with `showModal()`, so the page behind it is inert, focus moves
//! in, stays in, and returns where it was when the dialog closes. First layer: the texts, the policy's
//! exact version, three buttons of equal weight. Second layer: one switch per purpose, with the cookie
//! table of each cookie category, and the visitor's consent ID, date and receipt. Every text is set with
//! `textContent`, never parsed as HTML.
//!
//! The dialog sees only what it shows ([`View`]: the policy, the switches' state, the token) and the
//! dispatcher, for its `cancel` and `close`; the banner's state machine decides when it opens and
//! closes, and what a click on its buttons does.

use alloc::string::String;

use consent_core::{PurposeSet, TokenClaims};
use js_sys::{Date, JsString, Object};
use wasm_bindgen::prelude::*;
use web_sys::{Element, HtmlDialogElement, HtmlElement, HtmlInputElement};

use crate::dom::{
    Listener, add, all_in, append, attr, element, find, get, join, set, set_str, set_text,
};
use crate::first_layer;
use crate::policy::{PolicyView, array};
use crate::step::{Dispatch, Step};

/// What the dialog shows: the current policy, and the visitor's side of it.
pub(crate) struct View<'a> {
    /// The current policy, in the language to show.
    pub(crate) policy: &'a PolicyView,
    /// The purposes that need consent which the current choice grants (the switches' first state).
    pub(crate) on: PurposeSet,
    /// The current choice was made under an older policy version ("Policy updated on …").
    pub(crate) outdated: bool,
    /// `navigator.globalPrivacyControl` (the marketing switches' note).
    pub(crate) gpc: bool,
    /// The cookie's token: the consent ID, the date and the receipt link, on the second layer.
    pub(crate) token: Option<&'a TokenClaims>,
    /// The consent server (for the receipt's address).
    pub(crate) endpoint: &'a str,
}

/// The dialog on screen.
pub(crate) struct Dialog {
    root: HtmlElement,
    /// Opened through the way back in: Escape and the close button close it without a change.
    reopened: bool,
    /// The second layer (one switch per purpose) is shown.
    choices: bool,
    /// `cancel` ([`Step::Cancel`]) and `close` ([`Step::Close`]).
    _listeners: [Listener; 2],
}

impl Dialog {
    /// Adds the dialog to the page (on its second layer when `reopened`), empty: [`Dialog::render`]
    /// fills it, [`Dialog::open`] shows it. `None` on a page without a `<body>`.
    pub(crate) fn new(reopened: bool, dispatch: &Dispatch) -> Option<Dialog> {
        Some(Dialog::with(first_layer::dialog()?, reopened, dispatch))
    }

    /// Takes over the dialog the first visit's part painted (`first.rs`: the first layer, shown as a
    /// modal, written by the same code as [`Dialog::render`]'s first layer from the same view), as it
    /// is: nothing is rebuilt, so focus, and a click already made on it, stay where they are. The
    /// bootstrap's listeners on it (`onclick`, which remembered a click, and `oncancel`) go.
    pub(crate) fn adopt(root: HtmlElement, dispatch: &Dispatch) -> Dialog {
        set(&root, "onclick", &JsValue::NULL);
        set(&root, "oncancel", &JsValue::NULL);
        Dialog::with(root, false, dispatch)
    }

    fn with(root: HtmlElement, reopened: bool, dispatch: &Dispatch) -> Dialog {
        let listeners = [
            Listener::new(&root, "cancel", dispatch.callback(Step::Cancel)),
            Listener::new(&root, "close", dispatch.callback(Step::Close)),
        ];
        Dialog {
            root,
            reopened,
            choices: reopened,
            _listeners: listeners,
        }
    }

    /// Shows the dialog as a modal (`showModal()`), focused on its first switch when reopened, else on
    /// itself.
    pub(crate) fn open(&self) {
        first_layer::show(&self.root);
        if self.reopened {
            focus(&self.root, "input:not([disabled])");
        }
    }

    /// Opened through the way back in (Escape and the close button close it without a change).
    pub(crate) fn reopened(&self) -> bool {
        self.reopened
    }

    /// The dialog's element.
    pub(crate) fn root(&self) -> &HtmlElement {
        &self.root
    }

    /// Switches to the second layer ("choose"); [`Dialog::render`] then shows it.
    pub(crate) fn choose(&mut self) {
        self.choices = true;
    }

    /// The purposes whose switches are on.
    pub(crate) fn selected(&self, policy: &PolicyView) -> PurposeSet {
        let mut selected = PurposeSet::EMPTY;
        for input in all_in(&self.root, "input[data-purpose]:checked") {
            if let Some(id) = crate::dom::attr_string(&input, "data-purpose") {
                selected |= bit_of(policy, &id);
            }
        }
        selected
    }

    /// Closes the dialog and removes it (after a choice, or without one through the way back in).
    pub(crate) fn close(self) {
        self.root.unchecked_ref::<HtmlDialogElement>().close();
        self.root.remove();
    }

    /// (Re)builds the dialog's content in the policy's language, keeping the switches as they are, then
    /// focuses the element `focus_on` selects, if any.
    pub(crate) fn render(&self, view: &View<'_>, focus_on: Option<&str>) {
        let policy = view.policy;
        let root = &self.root;
        // Switches already on screen keep their state across a language change.
        let mut on = view.on;
        for (i, input) in all_in(root, "input[data-purpose]").enumerate() {
            if i == 0 {
                on = PurposeSet::EMPTY;
            }
            if input.unchecked_ref::<HtmlInputElement>().checked()
                && let Some(id) = crate::dom::attr_string(&input, "data-purpose")
            {
                on |= bit_of(policy, &id);
            }
        }
        set_text(root, &JsValue::UNDEFINED);
        let lang = &policy.language;
        first_layer::top(root, policy, self.reopened);
        if view.outdated {
            let date = local_date(
                f64::from(policy.version.date().days()) * 86_400_000.0,
                lang,
                true,
            );
            add(
                root,
                "p",
                "consent-banner__updated",
                &join(&policy.ui("updated"), " ", &date),
            );
        }
        first_layer::policy_link(root, policy);

        if self.choices {
            choices(root, view, on);
            if let Some(token) = view.token {
                let info = add(root, "p", "consent-banner__receipt", &JsValue::UNDEFINED);
                let id = token.receipt.hyphenated();
                for (label, value) in [
                    ("consent-id", JsValue::from_str(&id)),
                    (
                        "consent-date",
                        local_date(token.issued_at.as_unix() as f64 * 1000.0, lang, false).into(),
                    ),
                ] {
                    add(&info, "span", "", &policy.ui(label));
                    add(&info, "span", "consent-banner__value", &value);
                }
                let mut href = String::from(view.endpoint);
                href.push_str("/v1/receipts/");
                href.push_str(&id);
                // The server gives the receipt to the holder of its token: the banner fetches it with the
                // token (the cookie does not go to a consent server on another origin) and saves it.
                let link = add(&info, "a", "", &policy.ui("receipt"));
                attr(&link, "href", &href);
                attr(&link, "data-consent-action", "receipt");
            }
        }

        first_layer::actions(root, policy, if self.choices { "save" } else { "choose" });
        if let Some(selector) = focus_on {
            focus(root, selector);
        }
    }

    /// Removes the dialog the browser has closed.
    pub(crate) fn remove(self) {
        self.root.remove();
    }
}

fn focus(root: &HtmlElement, selector: &str) {
    if let Some(el) = find(root, selector) {
        let _ = el.unchecked_into::<HtmlElement>().focus();
    }
}

/// A date (milliseconds since the epoch) written the way `lang` writes dates, by the browser's `Intl`:
/// "June 1, 2026", "1 июня 2026 г."; Kazakh in digits, "01.06.2026", as Kazakhstan writes dates
/// (Chromium's ICU data has no Kazakh, and `dateStyle: "long"` gives "2026 M06 1"; see [`crate::texts`]).
/// A `calendar` date (a policy version: midnight UTC) is that day everywhere; a moment (when the choice
/// was made) is the day it was in the visitor's time zone.
fn local_date(ms: f64, lang: &str, calendar: bool) -> JsString {
    let options = Object::new();
    if calendar {
        set_str(&options, "timeZone", "UTC");
    }
    let lang = if lang == "kk" {
        set_str(&options, "day", "2-digit");
        set_str(&options, "month", "2-digit");
        set_str(&options, "year", "numeric");
        "ru"
    } else {
        set_str(&options, "dateStyle", "long");
        lang
    };
    Date::new(&JsValue::from_f64(ms)).to_locale_date_string(lang, &options)
}

#[wasm_bindgen]
extern "C" {
    /// A JS number, for the binding below.
    type Num;
    /// `number.toLocaleString(lang, options)`, which throws on a unit or language the browser lacks.
    #[wasm_bindgen(method, catch, js_name = toLocaleString)]
    fn to_locale_string(this: &Num, lang: &str, options: &Object) -> Result<JsString, JsValue>;
}

/// A cookie's lifetime in `lang` ("6 months" is "6 месяцев" in Russian), written by the browser's
/// `Intl` (the policy has it in one form only), in Kazakh by the banner ("6 ай"; see [`crate::texts`]);
/// "session" as "сеанс" in Kazakh and Russian ([`crate::texts::session_lifetime`]); as the policy writes
/// it otherwise (English "session", a text that is not a lifetime), or when the browser cannot.
fn lifetime(text: &JsValue, lang: &str) -> JsValue {
    let written = text.as_string().unwrap_or_default();
    let Some((n, unit, kk)) = crate::logic::lifetime_parts(&written) else {
        return match crate::texts::session_lifetime(lang) {
            Some(session) if written == "session" => JsValue::from_str(session),
            _ => text.clone(),
        };
    };
    if lang == "kk" {
        return join(&JsValue::from_str(n), " ", &JsValue::from_str(kk)).into();
    }
    let options = Object::new();
    set_str(&options, "style", "unit");
    set_str(&options, "unit", unit);
    set_str(&options, "unitDisplay", "long");
    let n = n.bytes().fold(0.0, |n, d| n * 10.0 + f64::from(d - b'0'));
    JsValue::from_f64(n)
        .unchecked_into::<Num>()
        .to_locale_string(lang, &options)
        .map_or_else(|_| text.clone(), JsValue::from)
}

/// The second layer: one switch per purpose the banner presents (those that need no consent on and
/// locked; the others as `on` says, so off on a first visit), with descriptions and cookie tables.
fn choices(root: &Element, view: &View<'_>, on: PurposeSet) {
    let policy = view.policy;
    let list = add(
        root,
        "fieldset",
        "consent-banner__purposes",
        &JsValue::UNDEFINED,
    );
    add(&list, "legend", "", &policy.ui("purposes"));
    let scope = policy.scope;
    for (p, json) in policy.purposes.iter().zip(policy.purposes_json().iter()) {
        // Only the purposes of the banner's collection point (issue 18.1).
        if !policy.shown.contains(p.code) {
            continue;
        }
        let row = add(&list, "div", "consent-banner__purpose", &JsValue::UNDEFINED);
        let label = add(&row, "label", "consent-banner__switch", &JsValue::UNDEFINED);
        let id = &p.id_text;
        let mut description_id = String::from("consent-purpose-");
        description_id.push_str(id);
        let needs_consent = scope.asked.contains(p.code);
        let note = if !needs_consent {
            "always-on"
        } else if view.gpc && scope.marketing.contains(p.code) {
            "gpc"
        } else {
            ""
        };
        // The switch is described by its note ("refused: your browser sends Global Privacy Control"),
        // if any, then its description.
        let mut note_id = String::new();
        let mut described_by = String::new();
        if !note.is_empty() {
            note_id.push_str("consent-note-");
            note_id.push_str(id);
            described_by.push_str(&note_id);
            described_by.push(' ');
        }
        described_by.push_str(&description_id);
        let input = element(
            "input",
            "",
            &[
                ("type", "checkbox"),
                ("role", "switch"),
                ("data-purpose", id),
                ("aria-describedby", &described_by),
            ],
        );
        set(
            &input,
            "checked",
            &JsValue::from_bool(!needs_consent || on.contains(p.code)),
        );
        set(&input, "disabled", &JsValue::from_bool(!needs_consent));
        append(&label, &input);
        add(
            &label,
            "span",
            "consent-banner__purpose-title",
            &policy.purpose_text(&json, "title"),
        );
        if !note.is_empty() {
            let n = add(&row, "span", "consent-banner__note", &policy.ui(note));
            attr(&n, "id", &note_id);
        }
        let description = add(
            &row,
            "p",
            "consent-banner__purpose-description",
            &policy.purpose_text(&json, "description"),
        );
        attr(&description, "id", &description_id);
        if let Some(category) = policy.category(&json) {
            cookie_table(&row, policy, &category);
        }
    }
}

/// The cookies of a category, in a disclosure: name, provider, lifetime, purpose.
fn cookie_table(parent: &Element, policy: &PolicyView, category: &JsValue) {
    let details = add(
        parent,
        "details",
        "consent-banner__cookies",
        &JsValue::UNDEFINED,
    );
    let cookies = array(category, "cookies");
    let mut count = String::new();
    crate::logic::push_u64(&mut count, u64::from(cookies.length()), 1);
    count.push(')');
    add(
        &details,
        "summary",
        "",
        &join(&policy.ui("cookies"), " (", &JsValue::from_str(&count)),
    );
    let table = add(&details, "table", "", &JsValue::UNDEFINED);
    let head = add(&table, "tr", "", &JsValue::UNDEFINED);
    for h in ["cookie-name", "provider", "lifetime", "cookie-purpose"] {
        add(&head, "th", "", &policy.ui(h));
    }
    for cookie in cookies.iter() {
        let row = add(&table, "tr", "", &JsValue::UNDEFINED);
        let name = get(&cookie, "name");
        for cell in [
            if name.is_string() {
                name
            } else {
                get(&cookie, "pattern")
            },
            get(&cookie, "provider"),
            lifetime(&get(&cookie, "lifetime"), &policy.language),
            policy.text(&get(&cookie, "purpose")),
        ] {
            add(&row, "td", "", &cell);
        }
    }
}

/// The code of purpose `id` as a set (empty when the policy does not have it).
fn bit_of(policy: &PolicyView, id: &str) -> PurposeSet {
    policy
        .purpose(id)
        .map_or(PurposeSet::EMPTY, |p| PurposeSet::of(p.code))
}
