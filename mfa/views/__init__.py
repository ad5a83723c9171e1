"""The MFA screens, one module per screen: the padlock page (padlock), passkeys,
MFA-instellingen (installation), the go-live and reminders (rollout), and a
beheerder acting for someone else on the CRM user tab (users)."""
