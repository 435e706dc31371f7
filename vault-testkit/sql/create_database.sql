-- A fresh database for one test; {database} is a generated [a-z0-9_] name (identifiers cannot be bound).
CREATE DATABASE {database}
