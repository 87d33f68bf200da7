// Package corpus locates the public test material (Wycheproof and RFC JOSE vectors, Microsoft's
// discovery documents, keys and tokens, real APIM policy documents) that tests read from
// shared/corpus beside the repository. The material is never copied into the repository: where
// it is absent, as in a user's fresh clone, the tests that need it skip and say why.
package corpus
