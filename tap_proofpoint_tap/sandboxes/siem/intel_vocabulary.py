"""The words of the Threat, Campaign, Forensics and People APIs' synthetic answers: names in
the style of TAP's own (actors "TA5nn", capitalised families, technique names, not ATT&CK ids)."""

ACTORS = ("TA505", "TA511", "TA542", "TA544", "TA551", "TA570", "TA571", "TA577", "TA578")
MALWARE = (
    "Tordal",
    "Emotet",
    "Qbot",
    "IcedID",
    "Ursnif",
    "AgentTesla",
    "Formbook",
    "Dridex",
    "Remcos",
    "Pikabot",
    "DarkGate",
    "Lumma Stealer",
)
FAMILIES = ("Stealer", "Downloader", "Banking", "Backdoor", "RAT", "Keylogger", "Loader")
TECHNIQUES = (
    "Office VBA Macro",
    "XL4 macros",
    "HTML smuggling",
    "OneNote attachment",
    "QR code",
    "LNK file",
    "Password-protected zip",
    "Geofenced URL",
    "CAPTCHA page",
)
BRANDS = ("DocuSign", "Microsoft", "DHL", "Adobe", "Dropbox", "Amazon", "PayPal", "WeTransfer")
GEOGRAPHIES = ("US", "UK", "DE", "FR", "JP", "AU", "Global")
DETECTION_TYPES = ("URL_DEFENSE", "SANDBOX", "PHISH")
SUBTYPES = {"url": "COMPLETE_URL", "attachment": "ATTACHMENT", "messageText": "MESSAGE_TEXT"}

# People: the directory facts TAP joins to a recipient, often missing.
DEPARTMENTS = ("Finance", "Sales", "Engineering", "HR", "Legal", "Operations", "Executive")
LOCATIONS = ("New York", "London", "Berlin", "Singapore", "Remote")
TITLES = ("Analyst", "Manager", "Director", "Engineer", "Assistant", "Vice President")
VAP_FAMILIES = ("credential phishing", "malware", "malspam", "impostor", "corporate phishing")
CLICK_FAMILIES = ("Malware", "MalSpam", "Credential Phishing", "Impostor")

# Forensics: the sandboxes' platforms and the artefacts their reports name.
PLATFORMS = (
    {"name": "Win10", "os": "win", "version": "win10"},
    {"name": "Win7", "os": "win", "version": "win7"},
    {"name": "pps", "os": "pps"},
    {"name": "static", "os": "static", "version": "0"},
)
DROPPED = (
    "C:\\Users\\Admin\\AppData\\Local\\Temp\\{h}.exe",
    "C:\\Users\\Admin\\AppData\\Roaming\\{h}.dll",
    "C:\\ProgramData\\{h}\\update.js",
)
PROCESSES = (
    "C:\\Windows\\System32\\rundll32.exe",
    "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
    "C:\\Windows\\System32\\wscript.exe",
    "C:\\Windows\\System32\\mshta.exe",
)
REGISTRY_KEYS = (
    "HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\Run",
    "HKLM\\Software\\Microsoft\\Windows NT\\CurrentVersion\\Winlogon",
)
IDS_RULES = (
    "ET MALWARE Possible Emotet CnC Checkin",
    "ET TROJAN Ursnif Variant CnC Beacon",
    "ET INFO Observed DNS Query to .top TLD",
)
BEHAVIORS = ("behavior_persistence_run_key", "behavior_process_injection", "behavior_macro_exec")
