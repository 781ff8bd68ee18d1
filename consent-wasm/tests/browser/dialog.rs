//! The dialog: finding it, its buttons and switches, clicking them.

use super::*;

/// The dialog, if it is in the page (the newest, should there be several).
pub(crate) fn dialog() -> Option<HtmlElement> {
    let all = document()
        .query_selector_all(&format!("#{DIALOG_ID}"))
        .unwrap();
    all.item(all.length().checked_sub(1)?)
        .map(|n| n.unchecked_into())
}

/// Waits for the dialog to be open.
pub(crate) async fn shown() -> HtmlElement {
    until("the dialog", || {
        dialog().is_some_and(|d| d.unchecked_ref::<HtmlDialogElement>().open())
    })
    .await;
    dialog().unwrap()
}

pub(crate) fn all_in(root: &Element, selector: &str) -> Vec<HtmlElement> {
    let list = root.query_selector_all(selector).unwrap();
    (0..list.length())
        .map(|i| list.item(i).unwrap().unchecked_into())
        .collect()
}

pub(crate) fn one_in(root: &Element, selector: &str) -> HtmlElement {
    let found = all_in(root, selector);
    assert_eq!(found.len(), 1, "exactly one {selector}");
    found.into_iter().next().unwrap()
}

pub(crate) fn page_all(selector: &str) -> Vec<HtmlElement> {
    all_in(&document().document_element().unwrap(), selector)
}

pub(crate) fn text(el: &Element) -> String {
    el.text_content().unwrap_or_default()
}

/// The `data-consent-action`s of the dialog's buttons, in order.
pub(crate) fn actions() -> Vec<String> {
    all_in(&dialog().unwrap(), "[data-consent-action]")
        .iter()
        .map(|b| b.get_attribute("data-consent-action").unwrap())
        .collect()
}

/// The dialog's button for `action`.
pub(crate) fn action(name: &str) -> HtmlElement {
    one_in(
        &dialog().unwrap(),
        &format!("[data-consent-action=\"{name}\"]"),
    )
}

pub(crate) fn click(name: &str) {
    action(name).click();
}

pub(crate) fn switch(id: &str) -> HtmlInputElement {
    one_in(&dialog().unwrap(), &format!("input[data-purpose=\"{id}\"]")).unchecked_into()
}

/// The purposes that need consent switched on in the dialog.
pub(crate) fn switched_on() -> Vec<String> {
    all_in(
        &dialog().unwrap(),
        "input[data-purpose]:checked:not([disabled])",
    )
    .iter()
    .map(|s| s.get_attribute("data-purpose").unwrap())
    .collect()
}

pub(crate) fn reopen_button() -> Option<HtmlElement> {
    page_all(&format!(".{REOPEN_CLASS}")).into_iter().next()
}

/// What a screen reader announces for a button: its `aria-label`, else its text.
pub(crate) fn accessible_name(el: &Element) -> String {
    el.get_attribute("aria-label")
        .unwrap_or_else(|| text(el).trim().to_string())
}
