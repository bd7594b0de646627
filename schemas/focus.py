"""FOCUS 1.2 (the FinOps Open Cost and Usage Specification, Cost and Usage dataset): the columns
billrecon's two exports carry, their data types, and the values the specification allows.

What each column holds for HUAWEI CLOUD bill lines, and why, is in docs/focus.md; the SQL models are
sql/core/focus_*.sql and sql/marts/focus_*.sql.
"""

from __future__ import annotations

FOCUS_VERSION = "1.2"

# view name on the command line -> mart
VIEWS = {"partner": "focus_partner_cost", "customer": "focus_customer_billing"}
MART_TABLES = tuple(f"marts.{mart}" for mart in VIEWS.values())

# FOCUS column -> data type (Decimal, String, Date/Time). Mandatory columns of the specification, then
# the conditional and recommended ones billrecon can fill; custom columns (prefix x_) are not listed.
MANDATORY_COLUMNS: dict[str, str] = {
    "BilledCost": "Decimal",
    "BillingAccountId": "String",
    "BillingAccountName": "String",
    "BillingCurrency": "String",
    "BillingPeriodEnd": "Date/Time",
    "BillingPeriodStart": "Date/Time",
    "ChargeCategory": "String",
    "ChargeClass": "String",
    "ChargeDescription": "String",
    "ChargePeriodEnd": "Date/Time",
    "ChargePeriodStart": "Date/Time",
    "ContractedCost": "Decimal",
    "EffectiveCost": "Decimal",
    "InvoiceIssuerName": "String",
    "ListCost": "Decimal",
    "PricingQuantity": "Decimal",
    "PricingUnit": "String",
    "ProviderName": "String",
    "PublisherName": "String",
    "ServiceCategory": "String",
    "ServiceName": "String",
}

OTHER_COLUMNS: dict[str, str] = {
    "ChargeFrequency": "String",
    "CommitmentDiscountCategory": "String",
    "CommitmentDiscountId": "String",
    "CommitmentDiscountName": "String",
    "CommitmentDiscountQuantity": "Decimal",
    "CommitmentDiscountType": "String",
    "CommitmentDiscountUnit": "String",
    "ConsumedQuantity": "Decimal",
    "ConsumedUnit": "String",
    "PricingCategory": "String",
    "RegionId": "String",
    "RegionName": "String",
    "ResourceId": "String",
    "ResourceName": "String",
    "ResourceType": "String",
    "ServiceSubcategory": "String",
    "SkuId": "String",
    "SkuMeter": "String",
    "SkuPriceId": "String",
    "SubAccountId": "String",
    "SubAccountName": "String",
    "SubAccountType": "String",
}

COLUMN_TYPES: dict[str, str] = {**MANDATORY_COLUMNS, **OTHER_COLUMNS}

CUSTOM_PREFIX = "x_"

CHARGE_CATEGORIES = ("Usage", "Purchase", "Tax", "Credit", "Adjustment")
CHARGE_CLASSES = ("Correction",)
CHARGE_FREQUENCIES = ("One-Time", "Recurring", "Usage-Based")
COMMITMENT_DISCOUNT_CATEGORIES = ("Spend", "Usage")
PRICING_CATEGORIES = ("Standard", "Dynamic", "Committed", "Other")

# ServiceCategory -> its ServiceSubcategory values
SERVICE_SUBCATEGORIES: dict[str, tuple[str, ...]] = {
    "AI and Machine Learning": ("AI Platforms", "Bots", "Generative AI", "Machine Learning",
                                "Natural Language Processing", "Other (AI and Machine Learning)"),
    "Analytics": ("Analytics Platforms", "Business Intelligence", "Data Processing", "Search",
                  "Streaming Analytics", "Other (Analytics)"),
    "Business Applications": ("Productivity and Collaboration", "Other (Business Applications)"),
    "Compute": ("Containers", "End User Computing", "Quantum Compute", "Serverless Compute", "Virtual Machines",
                "Other (Compute)"),
    "Databases": ("Caching", "Data Warehouses", "Ledger Databases", "NoSQL Databases", "Relational Databases",
                  "Time Series Databases", "Other (Databases)"),
    "Developer Tools": ("Developer Platforms", "Continuous Integration and Deployment", "Development Environments",
                        "Source Code Management", "Quality Assurance", "Other (Developer Tools)"),
    "Identity": ("Identity and Access Management", "Other (Identity)"),
    "Integration": ("API Management", "Messaging", "Workflow Orchestration", "Other (Integration)"),
    "Internet of Things": ("IoT Analytics", "IoT Platforms", "Other (Internet of Things)"),
    "Management and Governance": ("Architecture", "Compliance", "Cost Management", "Data Governance",
                                  "Disaster Recovery", "Endpoint Management", "Observability", "Support",
                                  "Other (Management and Governance)"),
    "Media": ("Content Creation", "Gaming", "Media Streaming", "Mixed Reality", "Other (Media)"),
    "Migration": ("Data Migration", "Resource Migration", "Other (Migration)"),
    "Mobile": ("Other (Mobile)",),
    "Multicloud": ("Multicloud Integration", "Other (Multicloud)"),
    "Networking": ("Application Networking", "Content Delivery", "Network Connectivity", "Network Infrastructure",
                   "Network Routing", "Network Security", "Other (Networking)"),
    "Security": ("Secret Management", "Security Posture Management", "Threat Detection and Response",
                 "Other (Security)"),
    "Storage": ("Backup Storage", "Block Storage", "File Storage", "Object Storage", "Storage Platforms",
                "Other (Storage)"),
    "Web": ("Application Platforms", "Other (Web)"),
    "Other": ("Other (Other)",),
}
