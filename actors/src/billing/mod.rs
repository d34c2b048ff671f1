//! Billing: patient statements, payment plans, write-off approval, A/R aging.
