//! What the CDN remembers: upload tickets from `getuploadurl`, stored files, the uploads seen, and
//! queued faults. One lock, never held across an `.await` or together with another lock.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::crypto::{self, Key};
use super::types::{CdnFault, FaultKind, Upload};
use crate::http::now_ms;

/// What `getuploadurl` announced for one `upload_param`.
#[derive(Debug, Clone)]
pub(crate) struct Ticket {
    pub bot_id: String,
    pub filekey: String,
    pub media_type: u8,
    pub to_user_id: String,
    pub aeskey_hex: String,
    pub key: Key,
    pub rawsize: u64,
    pub rawfilemd5: String,
    pub filesize: u64,
    pub thumb: bool,
}

#[derive(Debug)]
pub(crate) struct CdnStore {
    inner: Mutex<Store>,
}

#[derive(Debug)]
struct Store {
    /// upload_param → ticket
    tickets: HashMap<String, Ticket>,
    /// download param → the bytes served
    files: HashMap<String, Vec<u8>>,
    uploads: Vec<Upload>,
    faults: VecDeque<CdnFault>,
    upload_full_url: bool,
}

impl CdnStore {
    pub(crate) fn new(upload_full_url: bool) -> Self {
        Self {
            inner: Mutex::new(Store {
                tickets: HashMap::new(),
                files: HashMap::new(),
                uploads: Vec::new(),
                faults: VecDeque::new(),
                upload_full_url,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Store> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn upload_full_url(&self) -> bool {
        self.lock().upload_full_url
    }

    pub(crate) fn set_upload_full_url(&self, on: bool) {
        self.lock().upload_full_url = on;
    }

    pub(crate) fn push_fault(&self, fault: CdnFault) {
        self.lock().faults.push_back(fault);
    }

    /// The oldest queued fault for this kind of request, removed.
    pub(crate) fn take_fault(&self, kind: FaultKind) -> Option<CdnFault> {
        let mut st = self.lock();
        let index = st.faults.iter().position(|f| f.kind() == kind)?;
        st.faults.remove(index)
    }

    pub(crate) fn pending_faults(&self) -> Vec<String> {
        self.lock()
            .faults
            .iter()
            .map(|f| format!("{f:?}"))
            .collect()
    }

    /// Registers a ticket and returns its fresh `upload_param`.
    pub(crate) fn register(&self, ticket: Ticket) -> String {
        let param = crypto::random_param();
        self.lock().tickets.insert(param.clone(), ticket);
        param
    }

    /// Stores bytes to be served by `download` and returns their download param.
    pub(crate) fn store_file(&self, bytes: Vec<u8>) -> String {
        let param = crypto::random_param();
        self.lock().files.insert(param.clone(), bytes);
        param
    }

    pub(crate) fn download(&self, param: &str) -> Option<Vec<u8>> {
        self.lock().files.get(param).cloned()
    }

    pub(crate) fn uploads(&self) -> Vec<Upload> {
        self.lock().uploads.clone()
    }

    /// Checks an upload against its ticket; on success stores the ciphertext and returns the
    /// download param (`x-encrypted-param`), else the error message (`x-error-message`).
    /// Uploads whose param matches no ticket are not recorded in `uploads`.
    pub(crate) fn upload(
        &self,
        param: &str,
        filekey: Option<&str>,
        body: &[u8],
        headers: BTreeMap<String, String>,
    ) -> Result<String, String> {
        let mut st = self.lock();
        let Some(ticket) = st.tickets.get(param).cloned() else {
            return Err(
                "unknown encrypted_query_param (not issued by getuploadurl, or not URL-decoded)"
                    .to_owned(),
            );
        };
        let check = verify(&ticket, filekey, body);
        let download_param = match &check.error {
            None => {
                let dp = crypto::random_param();
                st.files.insert(dp.clone(), body.to_vec());
                dp
            }
            Some(_) => String::new(),
        };
        st.uploads.push(Upload {
            bot_id: ticket.bot_id,
            filekey: ticket.filekey,
            media_type: ticket.media_type,
            to_user_id: ticket.to_user_id,
            aeskey: ticket.aeskey_hex,
            thumb: ticket.thumb,
            ciphertext_len: body.len(),
            plaintext: check.plaintext,
            md5_ok: check.md5_ok,
            accepted: check.error.is_none(),
            error: check.error.clone(),
            download_param: download_param.clone(),
            headers,
            at_ms: now_ms(),
        });
        match check.error {
            None => Ok(download_param),
            Some(e) => Err(e),
        }
    }
}

#[derive(Debug)]
struct Check {
    plaintext: Vec<u8>,
    md5_ok: bool,
    error: Option<String>,
}

fn verify(ticket: &Ticket, filekey: Option<&str>, body: &[u8]) -> Check {
    let fail = |plaintext: Vec<u8>, error: String| Check {
        plaintext,
        md5_ok: false,
        error: Some(error),
    };
    match filekey {
        None => return fail(Vec::new(), "query parameter `filekey` is required".into()),
        Some(k) if k != ticket.filekey => {
            return fail(
                Vec::new(),
                format!(
                    "filekey `{k}` does not match the filekey `{}` of getuploadurl",
                    ticket.filekey
                ),
            );
        }
        Some(_) => {}
    }
    if body.len() as u64 != ticket.filesize {
        return fail(
            Vec::new(),
            format!(
                "body is {} bytes, getuploadurl announced filesize {}",
                body.len(),
                ticket.filesize
            ),
        );
    }
    let Some(plaintext) = crypto::decrypt(&ticket.key, body) else {
        return fail(
            Vec::new(),
            "body does not decrypt (AES-128-ECB, PKCS#7) with the aeskey of getuploadurl".into(),
        );
    };
    if plaintext.len() as u64 != ticket.rawsize {
        let error = format!(
            "decrypted body is {} bytes, getuploadurl announced rawsize {}",
            plaintext.len(),
            ticket.rawsize
        );
        return fail(plaintext, error);
    }
    let md5 = crypto::md5_hex(&plaintext);
    if !md5.eq_ignore_ascii_case(&ticket.rawfilemd5) {
        let error = format!(
            "md5 of the decrypted body is {md5}, getuploadurl announced rawfilemd5 {}",
            ticket.rawfilemd5
        );
        return fail(plaintext, error);
    }
    Check {
        plaintext,
        md5_ok: true,
        error: None,
    }
}
