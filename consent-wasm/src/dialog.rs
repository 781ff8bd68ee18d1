//! The dialog: a native `<dialog>` shown with `showModal()`, so the page behind it is inert, focus moves
//! in, stays in, and returns where it was when the dialog closes. First layer: the texts, the policy's
//! exact version, three buttons of equal weight. Second layer: one switch per purpose, with the cookie
//! table of each cookie category, and the visitor's consent ID, date and receipt. Every text is set with
//! `textContent`, never parsed as HTML.

use alloc::string::String;

use js_sys::{Date, Object};
use wasm_bindgen::prelude::*;
use web_sys::{HtmlDialogElement, HtmlElement, HtmlInputElement};

use crate::banner::{Banner, DIALOG_ID};
use crate::dom::{append, element, get, set, string, text_element};
use crate::policy::{PolicyView, array};
use crate::texts::{LANGUAGES, language_name};

const TITLE_ID: &str = "consent-banner-title";
const DESCRIPTION_ID: &str = "consent-banner-description";

/// Opens the dialog (on its second layer when `reopened`).
pub(crate) fn show(b: &mut Banner, reopened: bool) {
    let root = element(
        "dialog",
        "consent-banner",
        &[
            ("id", DIALOG_ID),
            ("role", "dialog"),
            ("aria-modal", "true"),
            ("aria-labelledby", TITLE_ID),
            ("aria-describedby", DESCRIPTION_ID),
            ("tabindex", "-1"),
        ],
    );
    let Some(body) = crate::dom::document().body() else {
        return;
    };
    append(&body, &root);
    b.register_dialog(root.clone(), reopened);
    render(b, None);
    let _ = root.unchecked_ref::<HtmlDialogElement>().show_modal();
    if reopened {
        focus(&root, "input:not([disabled])");
    } else {
        // The dialog itself, so that a screen reader reads its title and description first (then Tab
        // reaches the controls); `showModal` would focus the first control, the language switcher.
        let _ = root.focus();
    }
}

fn focus(root: &HtmlElement, selector: &str) {
    if let Ok(Some(el)) = root.query_selector(selector) {
        let _ = el.unchecked_into::<HtmlElement>().focus();
    }
}

fn button(action: &str, label: &str) -> HtmlElement {
    let b = text_element("button", "consent-banner__button", label);
    let _ = b.set_attribute("type", "button");
    let _ = b.set_attribute("data-consent-action", action);
    b
}

/// A date (milliseconds since the epoch) written the way `lang` writes dates ("1 June 2026").
fn local_date(ms: f64, lang: &str) -> String {
    let options = Object::new();
    set(&options, "dateStyle", &JsValue::from_str("long"));
    set(&options, "timeZone", &JsValue::from_str("UTC"));
    Date::new(&JsValue::from_f64(ms))
        .to_locale_date_string(lang, &options)
        .into()
}

/// (Re)builds the dialog's content in the policy's language, keeping the switches as they are, then
/// focuses the element `focus_on` selects, if any.
pub(crate) fn render(b: &Banner, focus_on: Option<&str>) {
    let (Some(d), Some(policy)) = (&b.dialog, &b.policy) else {
        return;
    };
    let root = &d.root;
    // Switches already on screen keep their state across a language change.
    let mut on = b.previous();
    if let Ok(inputs) = root.query_selector_all("input[data-purpose]") {
        if inputs.length() > 0 {
            on = 0;
        }
        for i in 0..inputs.length() {
            if let Some(input) = inputs
                .item(i)
                .map(JsCast::unchecked_into::<HtmlInputElement>)
                && input.checked()
                && let Some(id) = input.get_attribute("data-purpose")
            {
                on |= b.bit_of(&id);
            }
        }
    }
    root.set_text_content(None);
    let lang = &policy.language;
    let _ = root.set_attribute("lang", lang);

    let head = element("div", "consent-banner__head", &[]);
    let title = text_element("h2", "consent-banner__title", &policy.ui("title"));
    let _ = title.set_attribute("id", TITLE_ID);
    let _ = title.set_attribute("elementtiming", "consent-banner");
    append(&head, &title);
    // The language switcher: the policy's languages the banner speaks, each in its own name.
    let switcher = element(
        "div",
        "consent-banner__languages",
        &[("role", "group"), ("aria-label", &policy.ui("language"))],
    );
    for l in LANGUAGES {
        if policy.languages.iter().any(|p| p == l) {
            let lb = text_element("button", "consent-banner__language", language_name(l));
            let _ = lb.set_attribute("type", "button");
            let _ = lb.set_attribute("lang", l);
            let _ = lb.set_attribute("data-consent-lang", l);
            let _ = lb.set_attribute("aria-pressed", if l == lang { "true" } else { "false" });
            append(&switcher, &lb);
        }
    }
    append(&head, &switcher);
    if d.reopened {
        let close = button("close", "×");
        let _ = close.set_attribute("aria-label", &policy.ui("close"));
        let _ = close.set_attribute("class", "consent-banner__close");
        append(&head, &close);
    }
    append(root, &head);

    let description = text_element(
        "p",
        "consent-banner__description",
        &policy.ui("description"),
    );
    let _ = description.set_attribute("id", DESCRIPTION_ID);
    append(root, &description);
    if b.outdated {
        let mut s = policy.ui("updated");
        s.push(' ');
        s.push_str(&local_date(
            f64::from(policy.version.date().days()) * 86_400_000.0,
            lang,
        ));
        append(root, &text_element("p", "consent-banner__updated", &s));
    }
    // The exact version of the policy the choice is made under.
    if let Some(url) = string(&policy.json, "url") {
        let mut label = policy.text(&get(&policy.json, "title"));
        label.push_str(" (");
        label.push_str(&policy.version_text);
        label.push(')');
        let link = text_element("a", "consent-banner__policy", &label);
        let _ = link.set_attribute("href", &url);
        let _ = link.set_attribute("target", "_blank");
        let _ = link.set_attribute("rel", "noopener");
        let p = element("p", "", &[]);
        append(&p, &link);
        append(root, &p);
    }

    if d.choices {
        append(root, &choices(b, on));
        if let Some(token) = &b.token {
            let info = element("p", "consent-banner__receipt", &[]);
            let id = token.receipt.hyphenated();
            for (label, value) in [
                ("consent-id", id.clone()),
                (
                    "consent-date",
                    local_date(token.issued_at.as_unix() as f64 * 1000.0, lang),
                ),
            ] {
                append(&info, &text_element("span", "", &policy.ui(label)));
                append(
                    &info,
                    &text_element("span", "consent-banner__value", &value),
                );
            }
            let mut href = b.config.endpoint.clone();
            href.push_str("/v1/receipts/");
            href.push_str(&id);
            // The server gives the receipt to the holder of its token: the banner fetches it with the
            // token (the cookie does not go to a consent server on another origin) and saves it.
            let link = text_element("a", "", &policy.ui("receipt"));
            let _ = link.set_attribute("href", &href);
            let _ = link.set_attribute("data-consent-action", "receipt");
            append(&info, &link);
            append(root, &info);
        }
    }

    // Three buttons of equal weight, in one row: accepting is no easier than rejecting.
    let actions = element("div", "consent-banner__actions", &[]);
    append(&actions, &button("accept-all", &policy.ui("accept-all")));
    append(&actions, &button("reject-all", &policy.ui("reject-all")));
    let last = if d.choices {
        button("save", &policy.ui("save"))
    } else {
        button("choose", &policy.ui("choose"))
    };
    append(&actions, &last);
    append(root, &actions);
    if let Some(selector) = focus_on {
        focus(root, selector);
    }
}

/// The second layer: one switch per purpose (those that need no consent on and locked; the others
/// as `on` says, so off on a first visit), with descriptions and cookie tables.
fn choices(b: &Banner, on: crate::logic::Purposes) -> HtmlElement {
    let Some(policy) = &b.policy else {
        return element("div", "", &[]);
    };
    let list = element("fieldset", "consent-banner__purposes", &[]);
    append(&list, &text_element("legend", "", &policy.ui("purposes")));
    for p in &policy.purposes {
        let row = element("div", "consent-banner__purpose", &[]);
        let label = element("label", "consent-banner__switch", &[]);
        let mut description_id = String::from("consent-purpose-");
        description_id.push_str(&p.id);
        let input: HtmlInputElement = element(
            "input",
            "",
            &[
                ("type", "checkbox"),
                ("role", "switch"),
                ("data-purpose", &p.id),
                ("aria-describedby", &description_id),
            ],
        )
        .unchecked_into();
        if !p.needs_consent {
            set(&input, "checked", &JsValue::TRUE);
            set(&input, "disabled", &JsValue::TRUE);
        } else {
            set(
                &input,
                "checked",
                &JsValue::from_bool(on & crate::logic::bit(p.code) != 0),
            );
        }
        append(&label, &input);
        append(
            &label,
            &text_element("span", "consent-banner__purpose-title", &p.title),
        );
        append(&row, &label);
        if !p.needs_consent {
            append(
                &row,
                &text_element("span", "consent-banner__note", &policy.ui("always-on")),
            );
        } else if b.gpc && p.marketing {
            append(
                &row,
                &text_element("span", "consent-banner__note", &policy.ui("gpc")),
            );
        }
        let description = text_element("p", "consent-banner__purpose-description", &p.description);
        let _ = description.set_attribute("id", &description_id);
        append(&row, &description);
        if let Some(category) = policy.category(&p.id) {
            append(&row, &cookie_table(policy, &category));
        }
        append(&list, &row);
    }
    list
}

/// The cookies of a category, in a disclosure: name, provider, lifetime, purpose.
fn cookie_table(policy: &PolicyView, category: &JsValue) -> HtmlElement {
    let details = element("details", "consent-banner__cookies", &[]);
    let cookies = array(category, "cookies");
    let mut summary = policy.ui("cookies");
    summary.push_str(" (");
    crate::logic::push_u64(&mut summary, u64::from(cookies.length()), 1);
    summary.push(')');
    append(&details, &text_element("summary", "", &summary));
    let table = element("table", "", &[]);
    let head = element("tr", "", &[]);
    for h in ["cookie-name", "provider", "lifetime", "cookie-purpose"] {
        append(&head, &text_element("th", "", &policy.ui(h)));
    }
    append(&table, &head);
    for cookie in cookies.iter() {
        let row = element("tr", "", &[]);
        let purpose = policy.text(&get(&cookie, "purpose"));
        for cell in [
            string(&cookie, "name")
                .or_else(|| string(&cookie, "pattern"))
                .unwrap_or_default(),
            string(&cookie, "provider").unwrap_or_default(),
            string(&cookie, "lifetime").unwrap_or_default(),
            purpose,
        ] {
            append(&row, &text_element("td", "", &cell));
        }
        append(&table, &row);
    }
    append(&details, &table);
    details
}
