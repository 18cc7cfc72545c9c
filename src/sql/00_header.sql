-- lstm install script of the version in lstm.control, assembled from src/sql/*.sql by the Makefile.

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION lstm" to load this file. \quit
