"""The stand-in's vocabulary: people, domains, paths, agents and subjects its events draw on."""

FIRST = [
    "alice",
    "bob",
    "carol",
    "dave",
    "erin",
    "frank",
    "grace",
    "heidi",
    "ivan",
    "judy",
    "mallory",
    "niaj",
    "olivia",
    "peggy",
    "rupert",
    "sybil",
    "trent",
    "victor",
    "walter",
    "yasmin",
    "zoe",
    "amir",
    "bianca",
    "chen",
    "dmitri",
    "elena",
    "farah",
    "goran",
]
LAST = [
    "smith",
    "jones",
    "garcia",
    "miller",
    "davis",
    "martin",
    "lee",
    "walker",
    "hall",
    "young",
    "king",
    "wright",
    "lopez",
    "hill",
    "scott",
    "green",
    "adams",
    "baker",
]
CORP_DOMAINS = ["acme-corp.example", "acme-labs.example"]
BAD_DOMAINS = [
    "secure-login-portal.example",
    "invoice-share.example",
    "docu-sign-now.example",
    "m1crosoft-support.example",
    "parcel-tracking.example",
    "payroll-update.example",
    "cloud-drive-files.example",
    "bank-verify.example",
    "hr-benefits.example",
]
PATHS = [
    "login",
    "verify",
    "download/invoice",
    "share/doc",
    "collab/?id=",
    "track/parcel",
    "view/",
    "auth/reset",
    "files/",
    "wp-content/update",
]
AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.1 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Mobile/15E148",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/119.0.0.0 Safari/537.36 Edg/119.0.2151.97",
]
SUBJECTS = [
    "Invoice {n} overdue",
    "Your parcel could not be delivered",
    "Action required: password expires today",
    "Updated payroll details",
    "Shared document: Q{n} report",
    "Benefits enrolment closes soon",
    "Voicemail from +1 555 01{n}",
]
MODULES = ["av", "zerohour", "spf", "dkimv", "spam", "dmarc", "pdr", "urldefense", "sandbox"]
TENANT = "3183a23b-d9c3-4b1e-9a53-2b6b9a1d2c47"
# Shares of events with a fact (each drawn from the event's generator, in this order).
