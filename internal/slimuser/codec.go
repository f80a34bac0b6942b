package slimuser

import "errors"

// The encoding: an object is a list of fields, each a tag byte and a value, ended by tag 0;
// only populated fields are written. Nested structs (a name, an email, a condition) are lists
// of the same shape. Values:
//
//   - a string is a uvarint h whose low two bits say how it is kept: 0, h/4 bytes inline; 1,
//     entry h/4 of the dictionary (dict: values many users share, as cachetrim interns them);
//     2, a UUID in its 16 bytes (the object's UID); 3, an RFC 3339 time (an annotation's
//     last-modified time) as Unix seconds (varint) and nanoseconds (uvarint). The last two
//     only for strings that the decoder formats back to the same bytes;
//   - an email whose value is the user's userName (Okta's usual) is tag 5 and no value;
//   - an integer is a zigzag varint; a *bool one byte (0 or 1); a time 0 for the zero time or
//     1, then its Unix seconds (varint) and nanoseconds (uvarint);
//   - a list is a uvarint count and its items; a map a count and key-value pairs.
//
// Presence is explicit: an absent tag is nil (a nil pointer, slice or map), a present one with
// a count of 0 an empty, non-nil slice or map, so a decode gives back exactly what was encoded.

// Tags of OrgUser's fields. Metadata tags are below tagSpec, status tags from tagStatus.
const (
	tagEnd byte = iota
	tagAPIVersion
	tagKind
	tagName
	tagGenerateName
	tagNamespace
	tagSelfLink
	tagUID
	tagResourceVersion
	tagGeneration
	tagCreated
	tagDeleted
	tagGracePeriod
	tagAnnotations
	tagOwners
	tagFinalizers
	tagLabelsEmpty // labels are kept beside the buffer (User.labels); this marks {} apart from nil
)

const (
	tagSpec byte = 20 + iota // tagUserName
	tagExternalID
	tagActive
	tagUserNameParts // spec.name
	tagDisplayName
	tagNickName
	tagProfileURL
	tagTitle
	tagUserType
	tagPreferredLanguage
	tagLocale
	tagTimezone
	tagEmails
	tagPhoneNumbers
	tagIms
	tagPhotos
	tagAddresses
	tagEntitlements
	tagRoles
	tagX509Certificates
	tagEnterprise
	tagExtensions
	tagSpecEnd
)

const (
	tagStatus byte = 50 + iota // tagObservedGeneration
	tagConditions
)

const tagUserName = tagSpec

// Kinds of strings (the low two bits of a string's header).
const (
	strInline = iota
	strDict
	strUUID
	strTime
)

// errCorrupt is a buffer that is not an encoding: only a fuzzer makes one.
var errCorrupt = errors.New("slimuser: corrupt encoding")
