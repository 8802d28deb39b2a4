"""Helpers shared by the test folders: raw HTTP, subprocess servers, throwaway services."""
