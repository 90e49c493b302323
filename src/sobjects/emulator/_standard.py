"""The standard schema of the local org: Account, Contact, Lead, Opportunity, Case, User, Task.

A fresh org is not empty: like a real Developer Edition org it already knows the standard CRM
objects, so the demo, the test suites and other people's Salesforce clients can create, query and
describe them with no setup. This module is that metadata, written as describe-shaped dicts that
``Schema`` completes (``complete_field`` fills every describe key not given here) and serves as
``GET .../sobjects/{name}/describe`` answers.

What it models, after real describe output (salesforce-rest §8.2, §11, §12):

- field order, names, labels, types, lengths, precision/scale/digits and the
  nillable/createable/updateable/defaultedOnCreate flags whose combination decides which
  fields are required on create (Account ``Name``; Contact ``LastName``; Lead ``LastName`` and
  ``Company``; Opportunity ``Name``, ``StageName``, ``CloseDate``; User ``Username``,
  ``LastName``, ``Email``, ``Alias`` and the four locale keys);
- the system fields (``Id``, ``IsDeleted``, the audit fields, ``OwnerId``);
- lookups, with the child relationship name each parent exposes (the non-describe key
  ``childRelationshipName``, which ``Schema`` turns into the parent's ``childRelationships``);
- compound fields: the address compounds with their components, and the read-only person
  ``Name`` built from ``Salutation``/``FirstName``/``LastName``;
- picklists with their standard values. Standard picklists are unrestricted (Salesforce only lets
  new custom picklists be restricted); the restricted ones here are the system value sets
  (geocode accuracy, the User locale keys) and the custom ``Contact.Interests__c``.

Deliberate simplifications: fields the org could only fill by running business logic it does not
have (fiscal periods, expected revenue, Jigsaw/Data.com, photo URLs) are left out, as are lookups to
objects this org lacks (``RecordTypeId``, ``CampaignId``, ``User.ProfileId``); only the present
objects appear in polymorphic ``referenceTo`` lists (plus ``Group`` for owners). ``User`` keeps an
``IsDeleted`` field like every other object here so the store can treat all objects alike. A
picklist with a default value names it both on the value (``picklistValues[].defaultValue``) and
as the field's ``defaultValue``, so the store needs a single rule to apply defaults.

``urls`` hold the literal placeholder ``{version}``
(``/services/data/v{version}/sobjects/Account``); the routes substitute the request's API version.
Everything is plain literals: each call of ``standard_sobjects()`` builds new, identical dicts.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["standard_sobjects"]

Field = dict[str, Any]

_READ_ONLY: dict[str, Any] = {"createable": False, "updateable": False}
# Read-only and always set by the org when the record is saved.
_SYSTEM: dict[str, Any] = {**_READ_ONLY, "nillable": False, "defaultedOnCreate": True}
# Long text areas (32,000 characters) can be selected but not filtered, sorted or grouped.
_LONG_TEXT: dict[str, Any] = {
    "filterable": False,
    "sortable": False,
    "groupable": False,
    "aggregatable": False,
}


def standard_sobjects() -> list[dict[str, Any]]:
    """Describe-shaped dicts for the standard objects of a fresh local org (new dicts per call)."""
    return [_account(), _contact(), _lead(), _opportunity(), _case(), _user(), _task()]


# --- field helpers -----------------------------------------------------------------------------


def _field(name: str, type_: str, label: str, **kw: Any) -> Field:
    return {"name": name, "type": type_, "label": label, **kw}


def _text(name: str, label: str, length: int = 255, **kw: Any) -> Field:
    return _field(name, "string", label, length=length, **kw)


def _textarea(name: str, label: str, length: int = 32000, **kw: Any) -> Field:
    extra = _LONG_TEXT if length > 255 else {"sortable": True, "groupable": True}
    return _field(name, "textarea", label, length=length, **{**extra, **kw})


def _email(name: str, label: str, length: int = 80, **kw: Any) -> Field:
    return _field(name, "email", label, length=length, **kw)


def _phone(name: str, label: str, **kw: Any) -> Field:
    return _field(name, "phone", label, length=40, **kw)


def _url(name: str, label: str, **kw: Any) -> Field:
    return _field(name, "url", label, length=255, **kw)


def _boolean(name: str, label: str, default: bool = False, **kw: Any) -> Field:
    return _field(name, "boolean", label, defaultValue=default, **kw)


def _int(name: str, label: str, digits: int, **kw: Any) -> Field:
    return _field(name, "int", label, digits=digits, **kw)


def _number(
    name: str, label: str, type_: str = "double", precision: int = 18, scale: int = 2, **kw: Any
) -> Field:
    """double, currency or percent: aggregatable, but not groupable."""
    return _field(name, type_, label, precision=precision, scale=scale, groupable=False, **kw)


def _date(name: str, label: str, **kw: Any) -> Field:
    return _field(name, "date", label, **kw)


def _datetime(name: str, label: str, **kw: Any) -> Field:
    return _field(name, "datetime", label, groupable=False, **kw)


def _values(values: Sequence[str | tuple[str, str]], default: str | None) -> list[dict[str, Any]]:
    """Picklist entries; a value given as ``(value, label)`` has a label of its own."""
    out = []
    for entry in values:
        value, label = entry if isinstance(entry, tuple) else (entry, entry)
        out.append(
            {
                "active": True,
                "defaultValue": value == default,
                "label": label,
                "validFor": None,
                "value": value,
            }
        )
    return out


def _picklist(
    name: str,
    label: str,
    values: Sequence[str | tuple[str, str]],
    restricted: bool = False,
    default: str | None = None,
    type_: str = "picklist",
    **kw: Any,
) -> Field:
    """A picklist (or multipicklist, combobox); a default value makes it defaulted on create."""
    extra: dict[str, Any] = {}
    if default is not None:
        extra = {"defaultValue": default, "defaultedOnCreate": True}
    return _field(
        name,
        type_,
        label,
        picklistValues=_values(values, default),
        restrictedPicklist=restricted,
        **{**extra, **kw},
    )


def _lookup(
    name: str,
    label: str,
    to: Sequence[str],
    relationship: str,
    child: str | None = None,
    **kw: Any,
) -> Field:
    """A reference field. ``child`` names the relationship each parent sees (``Contacts``)."""
    out = _field(
        name,
        "reference",
        label,
        length=18,
        referenceTo=list(to),
        relationshipName=relationship,
        polymorphicForeignKey=len(to) > 1,
        **kw,
    )
    if child:
        out["childRelationshipName"] = child
    return out


_GEOCODE_ACCURACY = [
    "Address",
    "NearAddress",
    "Block",
    "Street",
    "ExtendedZip",
    "Zip",
    "Neighborhood",
    "City",
    "County",
    "State",
    "Unknown",
]


def _address(prefix: str, label: str) -> list[Field]:
    """An address compound after its components: ``_address("Billing", "Billing")`` gives
    ``BillingStreet`` ... ``BillingGeocodeAccuracy`` then ``BillingAddress``; the prefix may be
    empty (Lead, User: ``Street`` ... ``Address``)."""
    compound = f"{prefix}Address"
    lead = f"{label} " if label else ""

    def part(field: Field) -> Field:
        return {**field, "compoundFieldName": compound}

    return [
        part(_textarea(f"{prefix}Street", f"{lead}Street", length=255)),
        part(_text(f"{prefix}City", f"{lead}City", 40)),
        part(_text(f"{prefix}State", f"{lead}State/Province", 80)),
        part(_text(f"{prefix}PostalCode", f"{lead}Zip/Postal Code", 20)),
        part(_text(f"{prefix}Country", f"{lead}Country", 80)),
        part(_number(f"{prefix}Latitude", f"{lead}Latitude", scale=15)),
        part(_number(f"{prefix}Longitude", f"{lead}Longitude", scale=15)),
        part(
            _picklist(
                f"{prefix}GeocodeAccuracy",
                f"{lead}Geocode Accuracy",
                _GEOCODE_ACCURACY,
                restricted=True,
                length=40,
            )
        ),
        _field(
            compound,
            "address",
            f"{lead}Address",
            aggregatable=False,
            **_READ_ONLY,
        ),
    ]


def _person_name(*, with_salutation: bool = True) -> list[Field]:
    """``LastName``, ``FirstName`` (and ``Salutation``) with the read-only ``Name`` they build."""
    parts = [
        _text("LastName", "Last Name", 80, nillable=False, compoundFieldName="Name"),
        _text("FirstName", "First Name", 40, compoundFieldName="Name"),
    ]
    if with_salutation:
        parts.append(
            _picklist("Salutation", "Salutation", _SALUTATIONS, length=40, compoundFieldName="Name")
        )
    name = _text("Name", "Full Name", 121, nillable=False, nameField=True, **_READ_ONLY)
    return [*parts, name]


# --- system fields -----------------------------------------------------------------------------


def _id(label: str) -> Field:
    """``Id``, first in every describe."""
    return _field(
        "Id",
        "id",
        f"{label} ID",
        length=18,
        idLookup=True,
        nillable=False,
        defaultedOnCreate=True,
        **_READ_ONLY,
    )


def _is_deleted() -> Field:
    """``IsDeleted``: true only for records in the recycle bin (seen through ``queryAll``)."""
    return _boolean("IsDeleted", "Deleted", **_READ_ONLY)


def _head(label: str) -> list[Field]:
    """``Id`` and ``IsDeleted``, first in most describes."""
    return [_id(label), _is_deleted()]


def _owner(to: Sequence[str] = ("User",), label: str = "Owner ID") -> Field:
    """``OwnerId``: set to the running user when not given, so defaulted, never null."""
    return _lookup(
        "OwnerId",
        label,
        to,
        "Owner",
        nillable=False,
        defaultedOnCreate=True,
        namePointing=len(to) > 1,
    )


_QUEUE_OR_USER = ("Group", "User")


def _audit() -> list[Field]:
    """Who created and last changed the record, and when (read-only, set by the org)."""
    return [
        _datetime("CreatedDate", "Created Date", **_SYSTEM),
        _lookup("CreatedById", "Created By ID", ["User"], "CreatedBy", **_SYSTEM),
        _datetime("LastModifiedDate", "Last Modified Date", **_SYSTEM),
        _lookup("LastModifiedById", "Last Modified By ID", ["User"], "LastModifiedBy", **_SYSTEM),
        _datetime("SystemModstamp", "System Modstamp", **_SYSTEM),
    ]


def _recently_viewed() -> list[Field]:
    return [
        _datetime("LastViewedDate", "Last Viewed Date", **_READ_ONLY),
        _datetime("LastReferencedDate", "Last Referenced Date", **_READ_ONLY),
    ]


def _last_activity() -> Field:
    return _date("LastActivityDate", "Last Activity", **_READ_ONLY)


def _sobject(
    name: str, label: str, plural: str, prefix: str, fields: list[Field], **flags: Any
) -> dict[str, Any]:
    base = f"/services/data/v{{version}}/sobjects/{name}"
    return {
        "name": name,
        "label": label,
        "labelPlural": plural,
        "keyPrefix": prefix,
        "custom": False,
        **flags,
        "urls": {"sobject": base, "describe": f"{base}/describe", "rowTemplate": f"{base}/{{ID}}"},
        "childRelationships": [],
        "fields": fields,
    }


# --- standard value sets -----------------------------------------------------------------------

_SALUTATIONS = ["Mr.", "Ms.", "Mrs.", "Dr.", "Prof.", "Mx."]

_INDUSTRIES = [
    "Agriculture",
    "Apparel",
    "Banking",
    "Biotechnology",
    "Chemicals",
    "Communications",
    "Construction",
    "Consulting",
    "Education",
    "Electronics",
    "Energy",
    "Engineering",
    "Entertainment",
    "Environmental",
    "Finance",
    "Food & Beverage",
    "Government",
    "Healthcare",
    "Hospitality",
    "Insurance",
    "Machinery",
    "Manufacturing",
    "Media",
    "Not For Profit",
    "Recreation",
    "Retail",
    "Shipping",
    "Technology",
    "Telecommunications",
    "Transportation",
    "Utilities",
    "Other",
]

_RATINGS = ["Hot", "Warm", "Cold"]

_LEAD_SOURCES = ["Web", "Phone Inquiry", "Partner Referral", "Purchased List", "Other"]

_ACCOUNT_TYPES = [
    "Prospect",
    "Customer - Direct",
    "Customer - Channel",
    "Channel Partner / Reseller",
    "Installation Partner",
    "Technology Partner",
    "Other",
]

_OPPORTUNITY_STAGES = [
    "Prospecting",
    "Qualification",
    "Needs Analysis",
    "Value Proposition",
    "Id. Decision Makers",
    "Perception Analysis",
    "Proposal/Price Quote",
    "Negotiation/Review",
    "Closed Won",
    "Closed Lost",
]

_LEAD_STATUSES = [
    "Open - Not Contacted",
    "Working - Contacted",
    "Closed - Converted",
    "Closed - Not Converted",
]

_TIME_ZONES = [
    ("Pacific/Honolulu", "(GMT-10:00) Hawaii-Aleutian Standard Time (Pacific/Honolulu)"),
    ("America/Anchorage", "(GMT-09:00) Alaska Standard Time (America/Anchorage)"),
    ("America/Los_Angeles", "(GMT-08:00) Pacific Standard Time (America/Los_Angeles)"),
    ("America/Denver", "(GMT-07:00) Mountain Standard Time (America/Denver)"),
    ("America/Chicago", "(GMT-06:00) Central Standard Time (America/Chicago)"),
    ("America/New_York", "(GMT-05:00) Eastern Standard Time (America/New_York)"),
    ("America/Sao_Paulo", "(GMT-03:00) Brasilia Standard Time (America/Sao_Paulo)"),
    ("GMT", "(GMT+00:00) Greenwich Mean Time (GMT)"),
    ("Europe/London", "(GMT+00:00) Greenwich Mean Time (Europe/London)"),
    ("Europe/Paris", "(GMT+01:00) Central European Standard Time (Europe/Paris)"),
    ("Europe/Berlin", "(GMT+01:00) Central European Standard Time (Europe/Berlin)"),
    ("Asia/Kolkata", "(GMT+05:30) India Standard Time (Asia/Kolkata)"),
    ("Asia/Singapore", "(GMT+08:00) Singapore Standard Time (Asia/Singapore)"),
    ("Asia/Tokyo", "(GMT+09:00) Japan Standard Time (Asia/Tokyo)"),
    ("Australia/Sydney", "(GMT+10:00) Australian Eastern Standard Time (Australia/Sydney)"),
]

_LOCALES = [
    ("en_US", "English (United States)"),
    ("en_GB", "English (United Kingdom)"),
    ("en_CA", "English (Canada)"),
    ("en_AU", "English (Australia)"),
    ("de_DE", "German (Germany)"),
    ("fr_FR", "French (France)"),
    ("es_ES", "Spanish (Spain)"),
    ("it_IT", "Italian (Italy)"),
    ("nl_NL", "Dutch (Netherlands)"),
    ("pt_BR", "Portuguese (Brazil)"),
    ("ja_JP", "Japanese (Japan)"),
]

_EMAIL_ENCODINGS = [
    ("UTF-8", "Unicode (UTF-8)"),
    ("ISO-8859-1", "General US & Western Europe (ISO-8859-1, ISO-LATIN-1)"),
    ("Shift_JIS", "Japanese (Shift-JIS)"),
    ("ISO-2022-JP", "Japanese (JIS)"),
    ("EUC-JP", "Japanese (EUC)"),
    ("Big5", "Traditional Chinese (Big5)"),
    ("GB2312", "Simplified Chinese (GB2312)"),
]

_LANGUAGES = [
    ("en_US", "English"),
    ("de", "German"),
    ("es", "Spanish"),
    ("fr", "French"),
    ("it", "Italian"),
    ("ja", "Japanese"),
    ("nl_NL", "Dutch"),
    ("pt_BR", "Portuguese (Brazil)"),
]


# --- the objects -------------------------------------------------------------------------------


def _account() -> dict[str, Any]:
    fields = [
        *_head("Account"),
        _lookup("MasterRecordId", "Master Record ID", ["Account"], "MasterRecord", **_READ_ONLY),
        _text("Name", "Account Name", nillable=False, nameField=True),
        _picklist("Type", "Account Type", _ACCOUNT_TYPES),
        _lookup("ParentId", "Parent Account ID", ["Account"], "Parent", child="ChildAccounts"),
        *_address("Billing", "Billing"),
        *_address("Shipping", "Shipping"),
        _phone("Phone", "Account Phone"),
        _phone("Fax", "Account Fax"),
        _text("AccountNumber", "Account Number", 40),
        _url("Website", "Website"),
        _text("Sic", "SIC Code", 20),
        _picklist("Industry", "Industry", _INDUSTRIES),
        _number("AnnualRevenue", "Annual Revenue", "currency", scale=0),
        _int("NumberOfEmployees", "Employees", 8),
        _picklist("Ownership", "Ownership", ["Public", "Private", "Subsidiary", "Other"]),
        _text("TickerSymbol", "Ticker Symbol", 20),
        _textarea("Description", "Account Description"),
        _picklist("Rating", "Account Rating", _RATINGS),
        _text("Site", "Account Site", 80),
        _owner(),
        *_audit(),
        _last_activity(),
        *_recently_viewed(),
        _picklist("AccountSource", "Account Source", _LEAD_SOURCES),
        _text("SicDesc", "SIC Description", 80),
    ]
    return _sobject("Account", "Account", "Accounts", "001", fields, mergeable=True)


def _contact() -> dict[str, Any]:
    fields = [
        *_head("Contact"),
        _lookup("MasterRecordId", "Master Record ID", ["Contact"], "MasterRecord", **_READ_ONLY),
        # Deleting an account deletes its contacts, opportunities and cases, as in Salesforce.
        _lookup(
            "AccountId", "Account ID", ["Account"], "Account", child="Contacts", cascadeDelete=True
        ),
        *_person_name(),
        *_address("Other", "Other"),
        *_address("Mailing", "Mailing"),
        _phone("Phone", "Business Phone"),
        _phone("Fax", "Business Fax"),
        _phone("MobilePhone", "Mobile Phone"),
        _phone("HomePhone", "Home Phone"),
        _phone("OtherPhone", "Other Phone"),
        _phone("AssistantPhone", "Asst. Phone"),
        _lookup("ReportsToId", "Reports To ID", ["Contact"], "ReportsTo", child="DirectReports"),
        _email("Email", "Email", idLookup=True),
        _text("Title", "Title", 128),
        _text("Department", "Department", 80),
        _text("AssistantName", "Assistant's Name", 40),
        _picklist("LeadSource", "Lead Source", _LEAD_SOURCES),
        _date("Birthdate", "Birthdate"),
        _textarea("Description", "Contact Description"),
        _owner(),
        _boolean("HasOptedOutOfEmail", "Email Opt Out"),
        _boolean("HasOptedOutOfFax", "Fax Opt Out"),
        _boolean("DoNotCall", "Do Not Call"),
        *_audit(),
        _last_activity(),
        *_recently_viewed(),
        _text("EmailBouncedReason", "Email Bounced Reason"),
        _datetime("EmailBouncedDate", "Email Bounced Date"),
        _boolean("IsEmailBounced", "Is Email Bounced"),
        _picklist(
            "Interests__c",
            "Interests",
            ["Sports", "Music", "Travel", "Technology", "Cooking"],
            restricted=True,
            type_="multipicklist",
            custom=True,
        ),
    ]
    return _sobject("Contact", "Contact", "Contacts", "003", fields, mergeable=True)


def _lead() -> dict[str, Any]:
    fields = [
        *_head("Lead"),
        _lookup("MasterRecordId", "Master Record ID", ["Lead"], "MasterRecord", **_READ_ONLY),
        *_person_name(),
        _text("Title", "Title", 128),
        _text("Company", "Company", nillable=False),
        *_address("", ""),
        _phone("Phone", "Phone"),
        _phone("MobilePhone", "Mobile Phone"),
        _phone("Fax", "Fax"),
        _email("Email", "Email", idLookup=True),
        _url("Website", "Website"),
        _textarea("Description", "Description"),
        _picklist("LeadSource", "Lead Source", _LEAD_SOURCES),
        _picklist(
            "Status", "Lead Status", _LEAD_STATUSES, default="Open - Not Contacted", nillable=False
        ),
        _picklist("Industry", "Industry", _INDUSTRIES),
        _picklist("Rating", "Rating", _RATINGS),
        _number("AnnualRevenue", "Annual Revenue", "currency", scale=0),
        _int("NumberOfEmployees", "Employees", 8),
        _owner(_QUEUE_OR_USER),
        _boolean("IsConverted", "Converted", updateable=False),
        _date("ConvertedDate", "Converted Date", **_READ_ONLY),
        _lookup(
            "ConvertedAccountId",
            "Converted Account ID",
            ["Account"],
            "ConvertedAccount",
            **_READ_ONLY,
        ),
        _lookup(
            "ConvertedContactId",
            "Converted Contact ID",
            ["Contact"],
            "ConvertedContact",
            **_READ_ONLY,
        ),
        _lookup(
            "ConvertedOpportunityId",
            "Converted Opportunity ID",
            ["Opportunity"],
            "ConvertedOpportunity",
            **_READ_ONLY,
        ),
        _boolean("IsUnreadByOwner", "Unread By Owner"),
        *_audit(),
        _last_activity(),
        *_recently_viewed(),
        _text("EmailBouncedReason", "Email Bounced Reason"),
        _datetime("EmailBouncedDate", "Email Bounced Date"),
        _boolean("HasOptedOutOfEmail", "Email Opt Out"),
        _boolean("DoNotCall", "Do Not Call"),
    ]
    return _sobject("Lead", "Lead", "Leads", "00Q", fields, mergeable=True)


def _opportunity() -> dict[str, Any]:
    fields = [
        *_head("Opportunity"),
        _lookup(
            "AccountId",
            "Account ID",
            ["Account"],
            "Account",
            child="Opportunities",
            cascadeDelete=True,
        ),
        _boolean("IsPrivate", "Private"),
        _text("Name", "Name", 120, nillable=False, nameField=True),
        _textarea("Description", "Description"),
        _picklist("StageName", "Stage", _OPPORTUNITY_STAGES, nillable=False),
        _number("Amount", "Amount", "currency"),
        # Set from the stage when not given, hence defaulted.
        _number(
            "Probability",
            "Probability (%)",
            "percent",
            precision=3,
            scale=0,
            defaultedOnCreate=True,
        ),
        _number("TotalOpportunityQuantity", "Quantity"),
        _date("CloseDate", "Close Date", nillable=False),
        _picklist(
            "Type",
            "Opportunity Type",
            [
                "Existing Customer - Upgrade",
                "Existing Customer - Replacement",
                "Existing Customer - Downgrade",
                "New Customer",
            ],
        ),
        _text("NextStep", "Next Step"),
        _picklist("LeadSource", "Lead Source", _LEAD_SOURCES),
        _boolean("IsClosed", "Closed", **_READ_ONLY),
        _boolean("IsWon", "Won", **_READ_ONLY),
        _picklist(
            "ForecastCategoryName",
            "Forecast Category",
            ["Omitted", "Pipeline", "Best Case", "Commit", "Closed"],
            defaultedOnCreate=True,
        ),
        _owner(),
        *_audit(),
        _last_activity(),
        *_recently_viewed(),
    ]
    return _sobject("Opportunity", "Opportunity", "Opportunities", "006", fields)


def _case() -> dict[str, Any]:
    fields = [
        *_head("Case"),
        _lookup("MasterRecordId", "Master Record ID", ["Case"], "MasterRecord", **_READ_ONLY),
        # An auto-number ("00001000"): the name field, set by the org.
        _text(
            "CaseNumber",
            "Case Number",
            30,
            autoNumber=True,
            nameField=True,
            idLookup=True,
            **_SYSTEM,
        ),
        _lookup("ContactId", "Contact ID", ["Contact"], "Contact", child="Cases"),
        _lookup(
            "AccountId", "Account ID", ["Account"], "Account", child="Cases", cascadeDelete=True
        ),
        _lookup("ParentId", "Parent Case ID", ["Case"], "Parent", child="Cases"),
        _text("SuppliedName", "Name", 80),
        _email("SuppliedEmail", "Email"),
        _text("SuppliedPhone", "Phone", 40),
        _text("SuppliedCompany", "Company", 80),
        _picklist(
            "Type", "Case Type", ["Mechanical", "Electrical", "Electronic", "Structural", "Other"]
        ),
        _picklist("Status", "Status", ["New", "Working", "Escalated", "Closed"], default="New"),
        _picklist(
            "Reason",
            "Case Reason",
            [
                "Installation",
                "Equipment Complexity",
                "Performance",
                "Breakdown",
                "Equipment Design",
                "Feedback",
                "Other",
            ],
        ),
        _picklist("Origin", "Case Origin", ["Phone", "Email", "Web"]),
        _text("Subject", "Subject"),
        _picklist("Priority", "Priority", ["High", "Medium", "Low"], default="Medium"),
        _textarea("Description", "Description"),
        _boolean("IsClosed", "Closed", **_READ_ONLY),
        _datetime("ClosedDate", "Closed Date", **_READ_ONLY),
        _boolean("IsEscalated", "Escalated"),
        _owner(_QUEUE_OR_USER),
        *_audit(),
        *_recently_viewed(),
    ]
    return _sobject("Case", "Case", "Cases", "500", fields)


def _user() -> dict[str, Any]:
    required: dict[str, Any] = {"nillable": False}
    fields = [
        *_head("User"),
        _text("Username", "Username", 80, unique=True, idLookup=True, **required),
        *_person_name(with_salutation=False),
        _text("CompanyName", "Company Name", 80),
        _text("Division", "Division", 80),
        _text("Department", "Department", 80),
        _text("Title", "Title", 80),
        *_address("", ""),
        _email("Email", "Email", 128, idLookup=True, **required),
        _phone("Phone", "Phone"),
        _phone("Fax", "Fax"),
        _phone("MobilePhone", "Mobile"),
        _text("Alias", "Alias", 8, **required),
        _boolean("IsActive", "Active", default=True),
        _picklist(
            "TimeZoneSidKey", "Time Zone", _TIME_ZONES, restricted=True, length=40, **required
        ),
        _picklist("LocaleSidKey", "Locale", _LOCALES, restricted=True, length=40, **required),
        _picklist(
            "EmailEncodingKey",
            "Email Encoding",
            _EMAIL_ENCODINGS,
            restricted=True,
            length=40,
            **required,
        ),
        _picklist(
            "LanguageLocaleKey", "Language", _LANGUAGES, restricted=True, length=40, **required
        ),
        _picklist(
            "UserType",
            "User Type",
            ["Standard", "PowerPartner", "CspLitePortal", "CustomerSuccess", "Guest"],
            restricted=True,
            default="Standard",
            length=40,
            **_READ_ONLY,
        ),
        _text("EmployeeNumber", "Employee Number", 20),
        _lookup("ManagerId", "Manager ID", ["User"], "Manager"),
        _datetime("LastLoginDate", "Last Login", **_READ_ONLY),
        _text("FederationIdentifier", "SAML Federation ID", 512, idLookup=True),
        *_audit(),
        *_recently_viewed(),
    ]
    return _sobject("User", "User", "Users", "005", fields, deletable=False, undeletable=False)


def _task() -> dict[str, Any]:
    fields = [
        _id("Activity"),
        # Name or Who: a Contact or a Lead. Related To or What: any other record.
        _lookup("WhoId", "Name ID", ["Contact", "Lead"], "Who", child="Tasks"),
        _lookup(
            "WhatId", "Related To ID", ["Account", "Opportunity", "Case"], "What", child="Tasks"
        ),
        # A combobox: a picklist of suggestions that also takes free text.
        _picklist(
            "Subject",
            "Subject",
            ["Call", "Send Letter", "Send Quote", "Other"],
            type_="combobox",
            nameField=True,
        ),
        _date("ActivityDate", "Due Date Only"),
        # Both are never null but default to a value on create: not required.
        _picklist(
            "Status",
            "Status",
            ["Not Started", "In Progress", "Completed", "Waiting on someone else", "Deferred"],
            default="Not Started",
            nillable=False,
        ),
        _picklist(
            "Priority", "Priority", ["High", "Normal", "Low"], default="Normal", nillable=False
        ),
        _boolean("IsHighPriority", "High Priority", **_READ_ONLY),
        _owner(_QUEUE_OR_USER, "Assigned To ID"),
        _textarea("Description", "Description"),
        _picklist("Type", "Type", ["Call", "Email", "Meeting", "Other"]),
        _is_deleted(),
        # The account of the Who or What, kept by the org.
        _lookup("AccountId", "Account ID", ["Account"], "Account", **_READ_ONLY),
        _boolean("IsClosed", "Closed", **_READ_ONLY),
        *_audit(),
        _boolean("IsArchived", "Archived", **_READ_ONLY),
        _int("CallDurationInSeconds", "Call Duration", 8),
        _picklist("CallType", "Call Type", ["Internal", "Inbound", "Outbound"]),
        _text("CallDisposition", "Call Result"),
        _text("CallObject", "Call Object Identifier"),
        _datetime("ReminderDateTime", "Reminder Date/Time"),
        _boolean("IsReminderSet", "Reminder Set"),
        _picklist(
            "TaskSubtype",
            "Task Subtype",
            ["Task", "Email", "ListEmail", "Cadence", "Call"],
            default="Task",
            updateable=False,
        ),
        _datetime("CompletedDateTime", "Completed Date/Time", **_READ_ONLY),
    ]
    return _sobject("Task", "Task", "Tasks", "00T", fields)
