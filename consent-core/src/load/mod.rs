//! Loading a policy from TOML, reporting every problem with line, column and field path.
//!
//! One file per part of the policy, read in the file's order of sections: [`header`], [`vocabulary`],
//! [`purposes`], then the rights and the banner's texts here; [`values`] reads the values they share.

mod header;
mod purposes;
mod values;
mod vocabulary;

#[allow(unused_imports)]
use crate::prelude::*;

use crate::error::ProblemKind;
use crate::policy::{Policy, PolicyHash, Right};
use crate::toml_read::{Loader, Table, parse_document};
use crate::{BANNER_TEXTS, BannerTexts, Id, PolicyError, Texts};

/// Largest policy file accepted.
pub const MAX_POLICY_BYTES: usize = 1024 * 1024;

pub(crate) fn load(src: &str) -> Result<Policy, PolicyError> {
    let mut ld = Loader::new(src);
    let Some(doc) = parse_document(src, MAX_POLICY_BYTES, &mut ld) else {
        return Err(finish_problems(src, ld));
    };
    let root_span = doc.span();
    let mut root = Table::new(doc.get_ref(), root_span, String::new());
    let policy = read_policy(src, &mut ld, &mut root);
    root.finish(&mut ld);
    match policy {
        Some(mut p) if ld.problems.is_empty() => {
            p.hash = p.compute_hash();
            Ok(p)
        }
        _ => Err(finish_problems(src, ld)),
    }
}

fn finish_problems(src: &str, ld: Loader) -> PolicyError {
    PolicyError::Invalid(ld.into_problems(src, "incomplete policy"))
}

fn read_policy(src: &str, ld: &mut Loader, root: &mut Table) -> Option<Policy> {
    let header = header::read(ld, root);
    let vocab = vocabulary::read(src, ld, root);
    let purposes = purposes::read(src, ld, root, &vocab, header.version);

    let rights_v = root.req(ld, "rights");
    let rights_empty = rights_v
        .as_ref()
        .filter(|v| Loader::is_empty_array(v))
        .map(|v| v.span.clone());
    let mut declared = Vec::new();
    let rights = ld.tables(rights_v, |ld, mut t| {
        let id = t
            .req(ld, "id")
            .and_then(|v| ld.declare::<Id>(&v, &mut declared));
        let title = t.text(ld, "title");
        let text = t.text(ld, "text");
        t.finish(ld);
        Some(Right {
            id: id?,
            title: title?,
            text: text?,
        })
    });
    ld.unique(src, declared);
    for (list, span) in [
        ("audiences", vocab.audiences_empty),
        ("data_categories", vocab.categories_empty),
        ("rights", rights_empty),
    ] {
        if let Some(span) = span {
            ld.report(
                &span,
                list.to_owned(),
                ProblemKind::Invalid(format!("declare at least one entry in `{list}`")),
            );
        }
    }

    // The banner's own texts: optional, but all of them when present.
    let banner = match root.opt("banner") {
        Some(v) => ld.table(&v).and_then(|mut t| {
            let texts: Vec<Option<Texts>> = BANNER_TEXTS.iter().map(|k| t.text(ld, k)).collect();
            t.finish(ld);
            let texts: Option<Vec<Texts>> = texts.into_iter().collect();
            BannerTexts::new(texts?).map(Some)
        }),
        None => Some(None),
    };

    Some(Policy {
        id: header.id?,
        version: header.version?,
        url: header.url?,
        jurisdiction: header.jurisdiction?,
        languages: header.languages?,
        default_language: header.default_language?,
        choice_validity_months: header.choice_validity_months?,
        title: header.title?,
        retention: header.retention?,
        controller: header.controller?,
        contact: header.contact?,
        audiences: vocab.audiences.into_iter().map(|(x, _)| x).collect(),
        data_categories: vocab.data_categories.into_iter().map(|(x, _)| x).collect(),
        recipients: vocab.recipients.into_iter().map(|(x, _)| x).collect(),
        purposes: purposes.into_iter().map(|(x, _)| x).collect(),
        cookie_categories: vocab
            .cookie_categories
            .into_iter()
            .map(|(x, _)| x)
            .collect(),
        rights: rights.into_iter().map(|(x, _)| x).collect(),
        banner: banner?,
        hash: PolicyHash([0; 32]),
    })
}
