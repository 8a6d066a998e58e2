"""HubSpot's Properties API: a careful client, plans, pushes and pulls of calculation
properties."""
