"""The conductor: takes the work the API records and drives nodes through it."""
