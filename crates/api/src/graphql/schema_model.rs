//! What pricing a document needs to know about the schema, read once from the SDL the
//! schema prints (the same text as `schema.graphql`) plus the standard introspection types:
//! every type's fields with their types and arguments, what implements what, and enough of
//! the introspection answer's shape (types, fields, arguments, enum values, directives) to
//! count exactly what an introspection query would return.

use std::collections::HashMap;

use async_graphql::parser::types::{BaseType, Type, TypeKind, TypeSystemDefinition};

/// The introspection types of the GraphQL specification (October 2021, with
/// `specifiedByURL`, `isOneOf` and `includeDeprecated`), written as async-graphql answers
/// them (`__Schema.description` and `includeDeprecated` are non-null there), the built-in
/// scalars and directives: async-graphql prints none of them in the SDL. A test compares
/// the price of the full introspection query with what the schema answers.
const INTROSPECTION_SDL: &str = r#"
scalar String
scalar Boolean
scalar Int
scalar Float
scalar ID
type __Schema { description: String! types: [__Type!]! queryType: __Type! mutationType: __Type subscriptionType: __Type directives: [__Directive!]! }
type __Type { kind: __TypeKind! name: String description: String specifiedByURL: String fields(includeDeprecated: Boolean! = false): [__Field!] interfaces: [__Type!] possibleTypes: [__Type!] enumValues(includeDeprecated: Boolean! = false): [__EnumValue!] inputFields(includeDeprecated: Boolean! = false): [__InputValue!] ofType: __Type isOneOf: Boolean }
enum __TypeKind { SCALAR OBJECT INTERFACE UNION ENUM INPUT_OBJECT LIST NON_NULL }
type __Field { name: String! description: String args(includeDeprecated: Boolean! = false): [__InputValue!]! type: __Type! isDeprecated: Boolean! deprecationReason: String }
type __InputValue { name: String! description: String type: __Type! defaultValue: String isDeprecated: Boolean! deprecationReason: String }
type __EnumValue { name: String! description: String isDeprecated: Boolean! deprecationReason: String }
type __Directive { name: String! description: String locations: [__DirectiveLocation!]! args(includeDeprecated: Boolean! = false): [__InputValue!]! isRepeatable: Boolean! }
enum __DirectiveLocation { QUERY MUTATION SUBSCRIPTION FIELD FRAGMENT_DEFINITION FRAGMENT_SPREAD INLINE_FRAGMENT VARIABLE_DEFINITION SCHEMA SCALAR OBJECT FIELD_DEFINITION ARGUMENT_DEFINITION INTERFACE UNION ENUM ENUM_VALUE INPUT_OBJECT INPUT_FIELD_DEFINITION }
directive @deprecated(reason: String = "No longer supported") on FIELD_DEFINITION | ARGUMENT_DEFINITION | INPUT_FIELD_DEFINITION | ENUM_VALUE
directive @oneOf on INPUT_OBJECT
"#;

/// A type as a field or an argument has it: a named type, or a list or non-null wrapper of
/// another (an index into [`SchemaModel::refs`]).
pub type RefId = usize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TypeRef {
    Named(usize),
    List(RefId),
    NonNull(RefId),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Scalar,
    Object,
    Interface,
    Union,
    Enum,
    InputObject,
}

#[derive(Debug)]
pub struct NamedType {
    pub name: String,
    pub kind: Kind,
    /// Indices into [`SchemaModel::fields`].
    pub fields: Vec<usize>,
    by_name: HashMap<String, usize>,
    /// Named types (indices into [`SchemaModel::types`]).
    pub interfaces: Vec<usize>,
    pub possible_types: Vec<usize>,
    pub enum_values: usize,
    /// Indices into [`SchemaModel::input_values`].
    pub input_fields: Vec<usize>,
    /// This type as a [`TypeRef::Named`].
    pub as_ref: RefId,
}

#[derive(Debug)]
pub struct FieldModel {
    pub name: String,
    pub ty: RefId,
    /// Indices into [`SchemaModel::input_values`].
    pub args: Vec<usize>,
    /// The named type under the wrappers.
    pub base: usize,
    /// Whether a list wraps the named type.
    pub is_list: bool,
}

#[derive(Debug)]
pub struct InputValueModel {
    pub ty: RefId,
}

#[derive(Debug)]
pub struct DirectiveModel {
    /// Indices into [`SchemaModel::input_values`].
    pub args: Vec<usize>,
}

#[derive(Debug)]
pub struct SchemaModel {
    pub types: Vec<NamedType>,
    type_index: HashMap<String, usize>,
    pub fields: Vec<FieldModel>,
    pub input_values: Vec<InputValueModel>,
    pub refs: Vec<TypeRef>,
    ref_index: HashMap<TypeRef, RefId>,
    pub directives: Vec<DirectiveModel>,
    pub query: Option<usize>,
    pub mutation: Option<usize>,
    pub subscription: Option<usize>,
}

#[derive(Debug, thiserror::Error)]
#[error("the schema's SDL cannot be read: {0}")]
pub struct ModelError(String);

impl SchemaModel {
    /// The model of the schema `sdl` describes.
    pub fn from_sdl(sdl: &str) -> Result<Self, ModelError> {
        let mut definitions = async_graphql::parser::parse_schema(sdl)
            .map_err(|error| ModelError(error.to_string()))?
            .definitions;
        definitions.extend(
            async_graphql::parser::parse_schema(INTROSPECTION_SDL)
                .map_err(|error| ModelError(error.to_string()))?
                .definitions,
        );
        let mut model = SchemaModel {
            types: Vec::new(),
            type_index: HashMap::new(),
            fields: Vec::new(),
            input_values: Vec::new(),
            refs: Vec::new(),
            ref_index: HashMap::new(),
            directives: Vec::new(),
            query: None,
            mutation: None,
            subscription: None,
        };
        // Names first, so fields can refer to any type.
        for definition in &definitions {
            if let TypeSystemDefinition::Type(definition) = definition {
                let name = definition.node.name.node.to_string();
                if model.type_index.contains_key(&name) {
                    continue;
                }
                let kind = match &definition.node.kind {
                    TypeKind::Scalar => Kind::Scalar,
                    TypeKind::Object(_) => Kind::Object,
                    TypeKind::Interface(_) => Kind::Interface,
                    TypeKind::Union(_) => Kind::Union,
                    TypeKind::Enum(_) => Kind::Enum,
                    TypeKind::InputObject(_) => Kind::InputObject,
                };
                let index = model.types.len();
                let as_ref = model.intern(TypeRef::Named(index));
                model.type_index.insert(name.clone(), index);
                model.types.push(NamedType {
                    name,
                    kind,
                    fields: Vec::new(),
                    by_name: HashMap::new(),
                    interfaces: Vec::new(),
                    possible_types: Vec::new(),
                    enum_values: 0,
                    input_fields: Vec::new(),
                    as_ref,
                });
            }
        }
        for definition in &definitions {
            match definition {
                TypeSystemDefinition::Type(definition) => {
                    let Some(&index) = model.type_index.get(definition.node.name.node.as_str())
                    else {
                        continue;
                    };
                    match &definition.node.kind {
                        TypeKind::Object(object) => {
                            model.add_fields(index, &object.fields)?;
                            model.add_interfaces(index, &object.implements)?;
                        }
                        TypeKind::Interface(interface) => {
                            model.add_fields(index, &interface.fields)?;
                            model.add_interfaces(index, &interface.implements)?;
                        }
                        TypeKind::Union(union) => {
                            for member in &union.members {
                                let member = model.named(member.node.as_str())?;
                                model.types[index].possible_types.push(member);
                            }
                        }
                        TypeKind::Enum(values) => {
                            model.types[index].enum_values = values.values.len()
                        }
                        TypeKind::InputObject(input) => {
                            for field in &input.fields {
                                let value = model.input_value(&field.node.ty.node)?;
                                model.types[index].input_fields.push(value);
                            }
                        }
                        TypeKind::Scalar => {}
                    }
                }
                TypeSystemDefinition::Directive(directive) => {
                    let args = directive
                        .node
                        .arguments
                        .iter()
                        .map(|argument| model.input_value(&argument.node.ty.node))
                        .collect::<Result<_, _>>()?;
                    model.directives.push(DirectiveModel { args });
                }
                TypeSystemDefinition::Schema(schema) => {
                    let root = |name: &Option<async_graphql::Positioned<async_graphql::Name>>| {
                        name.as_ref()
                            .and_then(|name| model.type_index.get(name.node.as_str()).copied())
                    };
                    model.query = root(&schema.node.query);
                    model.mutation = root(&schema.node.mutation);
                    model.subscription = root(&schema.node.subscription);
                }
            }
        }
        // A schema without a `schema` block uses the conventional root names.
        model.query = model
            .query
            .or_else(|| model.type_index.get("Query").copied());
        model.mutation = model
            .mutation
            .or_else(|| model.type_index.get("Mutation").copied());
        model.subscription = model
            .subscription
            .or_else(|| model.type_index.get("Subscription").copied());
        Ok(model)
    }

    pub fn type_named(&self, name: &str) -> Option<usize> {
        self.type_index.get(name).copied()
    }

    /// The field `name` of the object or interface `of_type`.
    pub fn field(&self, of_type: usize, name: &str) -> Option<&FieldModel> {
        let index = *self.types.get(of_type)?.by_name.get(name)?;
        self.fields.get(index)
    }

    /// Every named type, as `__schema { types }` lists them.
    pub fn all_types(&self) -> impl Iterator<Item = usize> {
        0..self.types.len()
    }

    fn named(&self, name: &str) -> Result<usize, ModelError> {
        self.type_index
            .get(name)
            .copied()
            .ok_or_else(|| ModelError(format!("unknown type `{name}`")))
    }

    fn intern(&mut self, reference: TypeRef) -> RefId {
        if let Some(&id) = self.ref_index.get(&reference) {
            return id;
        }
        let id = self.refs.len();
        self.refs.push(reference);
        self.ref_index.insert(reference, id);
        id
    }

    fn reference(&mut self, ty: &Type) -> Result<RefId, ModelError> {
        let inner = match &ty.base {
            BaseType::Named(name) => {
                let named = self.named(name.as_str())?;
                self.types[named].as_ref
            }
            BaseType::List(item) => {
                let item = self.reference(item)?;
                self.intern(TypeRef::List(item))
            }
        };
        Ok(match ty.nullable {
            true => inner,
            false => self.intern(TypeRef::NonNull(inner)),
        })
    }

    fn input_value(&mut self, ty: &Type) -> Result<usize, ModelError> {
        let ty = self.reference(ty)?;
        self.input_values.push(InputValueModel { ty });
        Ok(self.input_values.len() - 1)
    }

    fn add_fields(
        &mut self,
        of_type: usize,
        fields: &[async_graphql::Positioned<async_graphql::parser::types::FieldDefinition>],
    ) -> Result<(), ModelError> {
        for field in fields {
            let ty = self.reference(&field.node.ty.node)?;
            let args = field
                .node
                .arguments
                .iter()
                .map(|argument| self.input_value(&argument.node.ty.node))
                .collect::<Result<_, _>>()?;
            let (base, is_list) = self.unwrap(ty);
            let index = self.fields.len();
            let name = field.node.name.node.to_string();
            self.fields.push(FieldModel {
                name: name.clone(),
                ty,
                args,
                base,
                is_list,
            });
            self.types[of_type].fields.push(index);
            self.types[of_type].by_name.insert(name, index);
        }
        Ok(())
    }

    fn add_interfaces(
        &mut self,
        of_type: usize,
        interfaces: &[async_graphql::Positioned<async_graphql::Name>],
    ) -> Result<(), ModelError> {
        for interface in interfaces {
            let interface = self.named(interface.node.as_str())?;
            self.types[of_type].interfaces.push(interface);
            if self.types[of_type].kind == Kind::Object {
                self.types[interface].possible_types.push(of_type);
            }
        }
        Ok(())
    }

    /// The named type under `reference`'s wrappers, and whether a list is among them.
    fn unwrap(&self, mut reference: RefId) -> (usize, bool) {
        let mut is_list = false;
        loop {
            match self.refs[reference] {
                TypeRef::Named(named) => return (named, is_list),
                TypeRef::List(inner) => {
                    is_list = true;
                    reference = inner;
                }
                TypeRef::NonNull(inner) => reference = inner,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_our_schema_with_its_introspection_types() {
        let model = SchemaModel::from_sdl(&crate::graphql::types_sdl()).expect("model");
        let query = model.query.expect("a query root");
        let posts = model.field(query, "posts").expect("Query.posts");
        assert_eq!(model.types[posts.base].name, "PostConnection");
        assert!(!posts.is_list);
        let node = model.type_named("Node").expect("Node");
        assert_eq!(model.types[node].possible_types.len(), 5);
        let nodes = model.field(query, "nodes").expect("Query.nodes");
        assert!(nodes.is_list);
        let type_type = model.type_named("__Type").expect("__Type");
        assert!(
            model
                .field(type_type, "possibleTypes")
                .is_some_and(|f| f.is_list)
        );
        assert!(model.subscription.is_some() && model.mutation.is_some());
    }
}
